import type { Express } from "express";
import request from "supertest";
import { afterAll, beforeAll } from "vitest";
import type { AuditEntry } from "../../../shared/audit.js";
import type { PanelRole } from "../../../shared/roles.js";
import { createApp } from "../../src/app.js";
import { toAuditEntry } from "../../src/audit/auditRow.js";
import { issueSessionToken } from "../../src/auth/sessionToken.js";
import type { ManualClock } from "../../src/clock.js";
import type { DatabaseKind } from "../../src/db/database.js";
import type { AppDeps } from "../../src/deps.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { Auth0Fake } from "../fakes/auth0Fake.js";
import { StripeFake } from "../fakes/stripeFake.js";
import { createTestDeps, testConfig } from "../support/databases.js";
import { grantKeysFor } from "../../src/impersonation/signingKeys.js";
import { startProductDirectory, syncProductDirectory, type ProductDirectory } from "../directory/productDirectory.js";
import { ticketFor } from "../support/tickets.js";
import { mirrorDemoBillingInto, mirrorDemoUsersInto } from "./demoProviders.js";

/**
 * The one harness of the action and sweep tests: the real app over a seeded database (PGlite or
 * PostgreSQL) acting as the four demo agents; with `auth0`/`stripe`, the adapters pointed at local
 * fakes that hold the same users, customers and subscriptions as the demo tables.
 */
export type TestDeps = AppDeps & { clock: ManualClock };

export interface Harness {
  deps: TestDeps;
  app: Express;
  auth0?: Auth0Fake;
  stripe?: StripeFake;
  /** With the http directory: the demo product's directory holding the accounts and users. */
  product?: ProductDirectory;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** `true` for a plain fake, or a fake of your own (a FlakyAuth0, a ScriptedStripe…). */
  auth0?: boolean | Auth0Fake;
  stripe?: boolean | StripeFake;
  env?: Record<string, string>;
  /**
   * Who owns accounts and users: Steward's tables, or the demo product's own store through the
   * directory contract (its rows copied from the seeded demo once `arrange` has run). Default:
   * STEWARD_TEST_DIRECTORY, else builtin — so the whole action suite can run on either.
   */
  directory?: DirectoryKind;
}

export type DirectoryKind = "builtin" | "http";
export const defaultDirectory = (): DirectoryKind => (process.env.STEWARD_TEST_DIRECTORY === "http" ? "http" : "builtin");
/** The audience Steward's directory tokens carry in tests (the demo product's id). */
const PRODUCT_AUDIENCE = "prd_demo";

/**
 * Building a seeded database (PGlite compiles WASM) can take a minute on a busy shared machine. The mutation
 * run (PostgreSQL only, databases reused: about a second) sets STEWARD_HARNESS_TIMEOUT_MS lower, so a mutant
 * that makes the set-up hang fails its tests in seconds instead of waiting out three minutes.
 */
export const HARNESS_TIMEOUT_MS = Number(process.env.STEWARD_HARNESS_TIMEOUT_MS ?? 180_000);

/** Provider retries without waiting, so failure tests stay fast. */
const FAST_RETRIES = { baseDelayMs: 1, maxDelayMs: 5 };

function fakeOf<F>(option: boolean | F | undefined, create: () => F): F | undefined {
  return option === true ? create() : option || undefined;
}

export async function createHarness(kind: DatabaseKind, options: HarnessOptions = {}): Promise<Harness> {
  const auth0 = fakeOf(options.auth0, () => new Auth0Fake());
  const stripe = fakeOf(options.stripe, () => new StripeFake());
  await auth0?.start();
  await stripe?.start();
  const product = (options.directory ?? defaultDirectory()) === "http" ? await startHarnessProduct(options.env) : undefined;
  const env = { ...auth0?.env(), ...stripe?.env(), ...product?.env, ...options.env };
  const deps = await createTestDeps(kind, { seed: true, env, providerPolicy: FAST_RETRIES });
  if (product) product.setClock(() => deps.clock.now());
  if (auth0) await mirrorDemoUsersInto(auth0, deps);
  if (stripe) await mirrorDemoBillingInto(stripe, deps);
  if (product) await syncProductDirectory(deps.database.db, product.directory.store);
  return {
    deps,
    app: createApp(deps),
    ...(auth0 ? { auth0 } : {}),
    ...(stripe ? { stripe } : {}),
    ...(product ? { product: product.directory } : {}),
    close: async () => {
      await deps.database.close().catch(() => undefined);
      await auth0?.close();
      await stripe?.close();
      await product?.directory.close();
    },
  };
}

/** The demo product's directory, trusting the key Steward signs with in tests (DATA_DIR=memory). */
async function startHarnessProduct(extraEnv: Record<string, string> = {}) {
  const config = testConfig({ DATA_DIR: "memory", ...extraEnv });
  let now = () => new Date();
  const directory = await startProductDirectory({ keys: grantKeysFor(config), issuer: config.publicUrl, audience: PRODUCT_AUDIENCE, now: () => now() });
  return {
    directory,
    env: { DATA_DIR: "memory", DIRECTORY_PROVIDER: "http", DIRECTORY_URL: directory.url, DIRECTORY_AUDIENCE: PRODUCT_AUDIENCE },
    setClock: (clock: () => Date) => void (now = clock),
  };
}

/** The product holds the customers Steward's seeded (and arranged) tables hold. */
export async function fillProductDirectory(h: Harness): Promise<void> {
  if (h.product) await syncProductDirectory(h.deps.database.db, h.product.store);
}

/**
 * A harness for the enclosing describe block: built (then `arrange`d) before its tests, closed after.
 * The object is filled in by beforeAll, so use it only inside hooks and tests.
 */
export function useHarness(kind: DatabaseKind, options: HarnessOptions & { arrange?: (h: Harness) => Promise<void> } = {}): Harness {
  const h = {} as Harness;
  beforeAll(async () => {
    Object.assign(h, await createHarness(kind, options));
    await options.arrange?.(h);
    // Arrangements made in Steward's tables reach the product too (those made through the API already have).
    await fillProductDirectory(h);
  }, HARNESS_TIMEOUT_MS);
  afterAll(() => h.close?.());
  return h;
}

/** A session for the demo agent with `role`, minted at the (manual) clock's now, so advancing time never expires it. */
export async function sessionOf(h: Harness, role: PanelRole): Promise<string> {
  const agent = DEMO_AGENTS.find((a) => a.role === role);
  if (!agent) throw new Error(`no demo agent with role ${role}`);
  return (await issueSessionToken(h.deps, { staffId: agent.id, zendeskUserId: agent.zendeskUserId })).token;
}

export interface ActionCall {
  target: { type: "user" | "account"; id: string };
  input?: Record<string, unknown>;
  expectedVersion?: number;
  ticketId?: string;
  reason?: string;
  confirmationToken?: string;
  ticketOverrideReason?: string;
  notifyCustomer?: boolean;
  customerLocale?: string;
}

export interface ActOptions {
  idempotencyKey?: string | undefined;
}

export async function versionOf(deps: AppDeps, target: ActionCall["target"]): Promise<number> {
  const table = target.type === "user" ? "users" : "accounts";
  return (await deps.database.db.selectFrom(table).select("version").where("id", "=", target.id).executeTakeFirstOrThrow()).version;
}

/** The request body the app sends: a ticket the target raised and a stock reason unless the call names its own. */
async function envelope(h: Harness, call: ActionCall): Promise<Record<string, unknown>> {
  return {
    ticketId: call.ticketId ?? (await ticketFor(h.deps, call.target)),
    reason: call.reason ?? "Customer asked on the ticket",
    target: call.target,
    expectedVersion: call.expectedVersion ?? (await versionOf(h.deps, call.target)),
    input: call.input ?? {},
    ...(call.confirmationToken ? { confirmationToken: call.confirmationToken } : {}),
    ...(call.ticketOverrideReason ? { ticketOverrideReason: call.ticketOverrideReason } : {}),
    ...(call.notifyCustomer !== undefined ? { notifyCustomer: call.notifyCustomer } : {}),
    ...(call.customerLocale !== undefined ? { customerLocale: call.customerLocale } : {}),
  };
}

/** POST /api/actions/<action> as the demo agent with `role` (expectedVersion read now unless given). */
export async function act(h: Harness, role: PanelRole, action: string, call: ActionCall, options: ActOptions = {}) {
  const req = request(h.app).post(`/api/actions/${action}`).set("Authorization", `Bearer ${await sessionOf(h, role)}`);
  if (options.idempotencyKey) req.set("Idempotency-Key", options.idempotencyKey);
  return req.send(await envelope(h, call));
}

export async function preview(h: Harness, role: PanelRole, action: string, call: ActionCall) {
  return request(h.app).post(`/api/actions/${action}/preview`).set("Authorization", `Bearer ${await sessionOf(h, role)}`).send(await envelope(h, call));
}

/** Preview, then run with the confirmation token it returned. */
export async function confirmAndAct(h: Harness, role: PanelRole, action: string, call: ActionCall, options: ActOptions = {}) {
  const previewed = await preview(h, role, action, call);
  if (previewed.status !== 200) throw new Error(`preview ${action} answered ${previewed.status}: ${JSON.stringify(previewed.body)}`);
  return act(h, role, action, { ...call, confirmationToken: previewed.body.confirmationToken as string }, options);
}

/** How the agent's app runs an action: destructive ones preview first and send the token. */
export function runAction(h: Harness, role: PanelRole, action: string, destructive: boolean | undefined, call: ActionCall, options: ActOptions = {}) {
  return destructive ? confirmAndAct(h, role, action, call, options) : act(h, role, action, call, options);
}

/** Audit entries for an action, oldest first (optionally for one target). */
export async function auditOf(deps: AppDeps, action: string, targetId?: string): Promise<AuditEntry[]> {
  let query = deps.database.db.selectFrom("audit_log").selectAll().where("action", "=", action);
  if (targetId) query = query.where("target_id", "=", targetId);
  return (await query.orderBy("seq").execute()).map(toAuditEntry);
}

export async function auditCount(deps: AppDeps): Promise<number> {
  const row = await deps.database.db.selectFrom("audit_log").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Everything an account's support actions can change locally (the account, its users, their sessions,
 * holds, mail, reset links, subscription, activity), for "nothing changed" checks.
 */
export async function localState(deps: AppDeps, accountId: string): Promise<unknown> {
  const { db } = deps.database;
  const users = await db.selectFrom("users").selectAll().where("account_id", "=", accountId).orderBy("id").execute();
  const userIds = users.map((u) => u.id);
  const none = ["-"];
  return {
    account: await db.selectFrom("accounts").selectAll().where("id", "=", accountId).executeTakeFirst(),
    users,
    sessions: await db.selectFrom("user_sessions").selectAll().where("user_id", "in", userIds.length ? userIds : none).orderBy("id").execute(),
    holds: await db.selectFrom("account_access_holds").selectAll().where("account_id", "=", accountId).orderBy("id").execute(),
    mail: await db.selectFrom("mail_outbox").selectAll().where("account_id", "=", accountId).orderBy("id").execute(),
    resetLinks: await db.selectFrom("password_reset_tokens").selectAll().where("user_id", "in", userIds.length ? userIds : none).orderBy("id").execute(),
    subscriptions: await db.selectFrom("billing_subscriptions").selectAll().where("customer_id", "in", db.selectFrom("billing_customers").select("id").where("account_id", "=", accountId)).orderBy("id").execute(),
    activity: (await db.selectFrom("activity_events").select("id").where("account_id", "=", accountId).execute()).length,
  };
}

export async function userRow(deps: AppDeps, userId: string) {
  return deps.database.db.selectFrom("users").selectAll().where("id", "=", userId).executeTakeFirstOrThrow();
}

export async function accountRow(deps: AppDeps, accountId: string) {
  return deps.database.db.selectFrom("accounts").selectAll().where("id", "=", accountId).executeTakeFirstOrThrow();
}

export function accountOfUser(userId: string): string {
  const match = /^usr_demo_(\d{3})_/.exec(userId);
  if (!match) throw new Error(`not a numbered demo user: ${userId}`);
  return `acc_demo_${match[1]}`;
}
