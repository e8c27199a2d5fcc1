import type { Express } from "express";
import type { Kysely } from "kysely";
import request from "supertest";
import { mintDemoZafToken } from "../../src/auth/mintDemoZafToken.js";
import type { DatabaseKind } from "../../src/db/database.js";
import type { DB, NewAccount, NewUser } from "../../src/db/schema.js";
import type { AppDeps } from "../../src/deps.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { createTestDeps } from "../support/databases.js";

/** Targeted rows next to the demo data, with sensible defaults for what a test does not care about. */
export async function addAccount(db: Kysely<DB>, account: Partial<NewAccount> & Pick<NewAccount, "id" | "name">): Promise<void> {
  await db
    .insertInto("accounts")
    .values({ domain: null, status: "active", plan: "team", seats_licensed: 10, billing_customer_id: null, ...account })
    .execute();
}

export async function addUser(db: Kysely<DB>, user: Partial<NewUser> & Pick<NewUser, "id" | "account_id" | "email" | "name">): Promise<void> {
  await db
    .insertInto("users")
    .values({ role: "member", status: "active", idp_id: null, last_login_at: null, locked_until: null, ...user })
    .execute();
}

/** Demo data (accounts, users, billing, tickets and the four demo agents) over a fresh database; the demo ZAF key stays in memory. */
export function lookupTestDeps(kind: DatabaseKind, env: Record<string, string> = {}, options: Omit<Parameters<typeof createTestDeps>[1], "seed" | "env"> = {}) {
  return createTestDeps(kind, { ...options, seed: true, env: { DATA_DIR: "memory", ...env } });
}

/** A real session, as the sidebar gets one: a demo ZAF token exchanged at POST /api/session. */
export async function sessionFor(app: Express, deps: AppDeps, zendeskUserId: string): Promise<string> {
  const token = await mintDemoZafToken(deps, { zendeskUserId });
  const res = await request(app).post("/api/session").send({ token });
  if (res.status !== 200) throw new Error(`POST /api/session answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.sessionToken as string;
}

/** PGlite compiles its WASM for each database: slow on a busy two-core machine. */
export const SETUP_TIMEOUT_MS = 180_000;

export const AGENT = { readOnly: DEMO_AGENTS[0], support: DEMO_AGENTS[1] } as const;
export type TestDeps = Awaited<ReturnType<typeof lookupTestDeps>>;
