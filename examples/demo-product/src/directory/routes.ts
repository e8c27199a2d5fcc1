import express, { Router, type Request, type Response } from "express";
import { DirectoryTokenRejected, verifyDirectoryToken, type DirectoryTokenClaims } from "@steward/impersonation-kit";
import type { JWTVerifyGetKey } from "jose";
import { z } from "zod";
import type { DirectoryStore, UserRow } from "./store.js";

/**
 * The demo product's side of Steward's directory contract (docs/directory-contract.json), over its
 * own store. The product decides every write: it checks the version Steward decided on, its own
 * rules and the declared settings, and applies a write once per idempotency key.
 */
export const BASE = "/steward/directory/v1";

/** The user settings support may change here, and their types. */
export const SETTINGS = [
  { key: "language", label: "Language", type: "enum", values: ["en", "de", "fr", "es"] },
  { key: "weekly_digest", label: "Weekly digest email", type: "boolean" },
  { key: "display_name", label: "Display name", type: "string", maxLength: 80 },
] as const;

const ACCOUNT_STATUSES = ["active", "trialing", "past_due", "suspended", "deactivated", "deleted"] as const;
const USER_STATUSES = ["active", "invited", "suspended", "deactivated", "deleted"] as const;
const ROLES = ["owner", "admin", "billing", "member", "viewer"] as const;

const settingValue = (s: (typeof SETTINGS)[number]) =>
  s.type === "enum" ? z.enum(s.values) : s.type === "boolean" ? z.boolean() : z.string().max(s.maxLength);
const Settings = z.object(Object.fromEntries(SETTINGS.map((s) => [s.key, settingValue(s).optional()]))).strict();
const nonEmpty = (c: object) => Object.keys(c).length > 0;
const AccountWrite = z.object({
  expectedVersion: z.number().int().min(0),
  changes: z.object({ status: z.enum(ACCOUNT_STATUSES).optional(), seatsLicensed: z.number().int().min(0).max(100_000).optional(), seatsTemporary: z.number().int().min(0).max(100_000).optional(), plan: z.string().min(1).max(100).optional() }).strict().refine(nonEmpty, "name at least one change"),
}).strict();
const UserWrite = z.object({
  expectedVersion: z.number().int().min(0),
  changes: z.object({ role: z.enum(ROLES).optional(), status: z.enum(USER_STATUSES).optional(), staff: z.boolean().optional(), protected: z.boolean().optional(), settings: Settings.optional() }).strict().refine(nonEmpty, "name at least one change"),
}).strict();

// Built once: a zod schema compiles its parser on first use, so one made per request paid that every time.
const LookupQuery = z.object({ email: z.string().max(320).optional(), id: z.string().max(200).optional(), externalId: z.string().max(200).optional() }).refine((v) => Boolean(v.email ?? v.id ?? v.externalId), "name email, id or externalId");
const SearchQuery = z.object({ q: z.string().min(1).max(200), limit: z.coerce.number().int().min(1).max(100).default(20) });

export interface DirectoryRouterOptions {
  store: DirectoryStore;
  /** Steward's JWKS (kit's remoteKeys(stewardUrl) in production). */
  keys: JWTVerifyGetKey;
  /** Steward's URL, the tokens' issuer. */
  issuer: string;
  /** This product's id, the tokens' audience. */
  audience: string;
  /** The time tokens are checked at (tests with a manual clock); default now. */
  now?: () => Date;
}

function problem(res: Response, status: number, code: string, title: string, extra: Record<string, unknown> = {}) {
  res.status(status).type("application/problem+json").send(JSON.stringify({ type: `about:blank`, title, status, code, ...extra }));
}

function invalid(res: Response, error: z.ZodError, prefix: string) {
  problem(res, 400, "invalid_request", "Invalid request", { errors: error.issues.map((i) => ({ field: [prefix, ...i.path].join("."), reason: i.message })) });
}

export function directoryRouter(options: DirectoryRouterOptions): Router {
  const { store } = options;
  const router = Router();
  router.use(BASE, express.json({ limit: "32kb" }));

  const authorized = async (req: Request, res: Response): Promise<DirectoryTokenClaims | null> => {
    try {
      return await verifyDirectoryToken(req.headers.authorization, options.keys, { issuer: options.issuer, audience: options.audience, ...(options.now ? { now: options.now() } : {}) });
    } catch (err) {
      problem(res, 401, "unauthorized", "Not authorized", { detail: err instanceof DirectoryTokenRejected ? err.code : "invalid token" });
      return null;
    }
  };
  const read = (handler: (req: Request, res: Response) => Promise<void>) => async (req: Request, res: Response) => {
    if (await authorized(req, res)) await handler(req, res);
  };

  router.get(`${BASE}/settings`, read(async (_req, res) => void res.json({ settings: SETTINGS })));
  router.get(`${BASE}/users`, read(async (req, res) => {
    const q = LookupQuery.safeParse(req.query);
    if (!q.success) return invalid(res, q.error, "query");
    res.json(await store.lookupWithAccounts(q.data));
  }));
  router.get(`${BASE}/search`, read(async (req, res) => {
    const q = SearchQuery.safeParse(req.query);
    if (!q.success) return invalid(res, q.error, "query");
    res.json(await store.search(q.data.q, q.data.limit));
  }));
  router.get(`${BASE}/users/:id`, read(async (req, res) => {
    const user = await store.user(String(req.params.id));
    if (!user) return problem(res, 404, "not_found", "No such user");
    res.json(user);
  }));
  router.get(`${BASE}/accounts/:id`, read(async (req, res) => {
    const answer = await store.accountWithUsers(String(req.params.id));
    if (!answer) return problem(res, 404, "not_found", "No such account");
    res.json(answer);
  }));

  router.patch(`${BASE}/accounts/:id`, async (req, res) => {
    const claims = await authorized(req, res);
    if (!claims) return;
    if (!claims.idem) return problem(res, 400, "invalid_request", "A write needs an idempotency key", { errors: [{ field: "token.idem", reason: "required on writes" }] });
    const body = AccountWrite.safeParse(req.body);
    if (!body.success) return invalid(res, body.error, "body");
    const id = String(req.params.id);
    const answer = await store.writeOnce(claims.idem, `account:${id}`, async (tx) => {
      const account = await store.account(id, tx);
      if (!account) return { status: 404, body: { code: "not_found", title: "No such account" } };
      if (account.version !== body.data.expectedVersion) return stale(account.version, body.data.expectedVersion);
      const c = body.data.changes;
      await tx.query(
        `update accounts set status = coalesce($2, status), seats_licensed = coalesce($3, seats_licensed), plan = coalesce($4, plan), seats_temporary = coalesce($5, seats_temporary), version = version + 1 where id = $1`,
        [id, c.status ?? null, c.seatsLicensed ?? null, c.plan ?? null, c.seatsTemporary ?? null],
      );
      return { status: 200, body: await store.account(id, tx) };
    });
    send(res, answer);
  });

  router.patch(`${BASE}/users/:id`, async (req, res) => {
    const claims = await authorized(req, res);
    if (!claims) return;
    if (!claims.idem) return problem(res, 400, "invalid_request", "A write needs an idempotency key", { errors: [{ field: "token.idem", reason: "required on writes" }] });
    const body = UserWrite.safeParse(req.body);
    if (!body.success) return invalid(res, body.error, "body");
    const id = String(req.params.id);
    const answer = await store.writeOnce(claims.idem, `user:${id}`, async (tx) => {
      const user: UserRow | null = await store.user(id, tx);
      if (!user) return { status: 404, body: { code: "not_found", title: "No such user" } };
      if (user.version !== body.data.expectedVersion) return stale(user.version, body.data.expectedVersion);
      const c = body.data.changes;
      const settings = c.settings ? JSON.stringify({ ...user.settings, ...c.settings }) : null;
      await tx.query(
        `update users set role = coalesce($2, role), status = coalesce($3, status), staff = coalesce($4, staff), protected = coalesce($5, protected), settings = coalesce($6::jsonb, settings), version = version + 1 where id = $1`,
        [id, c.role ?? null, c.status ?? null, c.staff ?? null, c.protected ?? null, settings],
      );
      return { status: 200, body: await store.user(id, tx, { deleted: true }) };
    });
    send(res, answer);
  });

  router.use(BASE, (_req, res) => problem(res, 404, "not_found", "No such directory operation"));
  return router;
}

function stale(current: number, expected: number) {
  return { status: 409, body: { code: "stale_version", title: "Changed since", detail: `version ${expected} expected, now ${current}`, currentVersion: current } };
}

function send(res: Response, answer: { status: number; body: unknown }) {
  if (answer.status < 300) return void res.status(answer.status).json(answer.body);
  const body = answer.body as Record<string, unknown>;
  res.status(answer.status).type("application/problem+json").send(JSON.stringify({ type: "about:blank", status: answer.status, ...body }));
}
