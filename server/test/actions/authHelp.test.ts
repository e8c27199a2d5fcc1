import { createHash } from "node:crypto";
import request from "supertest";
import { describe, expect, it } from "vitest";
import type { DatabaseKind } from "../../src/db/database.js";
import { databaseKinds } from "../support/databases.js";
import { accountOfUser, act, auditOf, localState, sessionOf, useHarness, userRow, versionOf, type Harness } from "./harness.js";
import { raisedBy } from "../support/tickets.js";
import { openMailSecrets, renderMailBody } from "../../src/mail/mailSecrets.js";

/**
 * Auth help through the HTTP API: user.password_reset, lockout_clear, mfa_reset, sessions_revoke,
 * block, unblock. The same matrix for each (allowed, lower role, bad input, stale version, invalid
 * transition, idempotent retry) plus each action's own effect; then the Auth0 adapter through its fake.
 */
interface AuthCase {
  action: string;
  input: Record<string, unknown>;
  /** Distinct users so the cases do not disturb one another: the success run, the retry run, the no-change runs. */
  users: { success: string; retry: string; other: string };
  invalid?: { userId: string; because: string };
  arrange?: (h: Harness) => Promise<void>;
  /** The action's own effect, built-in adapter. */
  effect: (h: Harness, userId: string, body: Record<string, unknown>) => Promise<void>;
  /** The same effect seen at Auth0. */
  auth0Effect: (h: Harness, idpId: string, body: Record<string, unknown>) => Promise<void>;
}

const MFA_INPUT = { identityVerification: "callback_known_phone", verificationNote: "Called the number on file" };
/** The HTTP method of each action's (first) write to the Auth0 Management API. */
const AUTH0_WRITE: Record<string, string> = {
  "user.password_reset": "POST",
  "user.lockout_clear": "DELETE",
  "user.mfa_reset": "DELETE",
  "user.sessions_revoke": "DELETE",
  "user.block": "PATCH",
  "user.unblock": "PATCH",
};
const idpOf = (h: Harness, userId: string) => userRow(h.deps, userId).then((u) => u.idp_id as string);

const cases: AuthCase[] = [
  {
    action: "user.password_reset",
    input: {},
    users: { success: "usr_demo_011_1", retry: "usr_demo_011_2", other: "usr_demo_011_3" },
    invalid: { userId: "usr_demo_007_1", because: "deactivated users cannot sign in" },
    effect: async (h, userId, body) => {
      const result = body.result as Record<string, unknown>;
      expect(result).toMatchObject({ provider: "builtin", delivery: "builtin_reset_link", mailedTo: (await userRow(h.deps, userId)).email });
      const mail = await h.deps.database.db.selectFrom("mail_outbox").selectAll().where("user_id", "=", userId).execute();
      expect(mail).toHaveLength(1);
      expect(mail[0]).toMatchObject({ id: result.mailId, kind: "password_reset", subject: "Reset your password", status: "queued", ticket_id: "1001" });
      // The link is sealed at rest: the stored body holds a placeholder, the sealed secret opens to the link.
      expect(mail[0]?.body_text).not.toMatch(/reset-password\?token=/);
      const sent = renderMailBody(mail[0]?.body_text ?? "", openMailSecrets(h.deps.config, mail[0]?.secret_sealed ?? ""));
      const token = /https:\/\/app\.example\.com\/reset-password\?token=([A-Za-z0-9_-]{43})/.exec(sent)?.[1];
      expect(token, sent).toBeDefined();
      const link = await h.deps.database.db.selectFrom("password_reset_tokens").selectAll().where("user_id", "=", userId).executeTakeFirstOrThrow();
      expect(link.token_sha256).toBe(createHash("sha256").update(token as string).digest("hex"));
      // The link is the customer's secret: never in the response or the audit log.
      expect(JSON.stringify(body)).not.toContain(token);
      expect(JSON.stringify(await auditOf(h.deps, "user.password_reset", userId))).not.toContain(token);
    },
    auth0Effect: async (h, idpId, body) => {
      const tickets = h.auth0!.passwordTickets.filter((t) => t.user_id === idpId);
      expect(tickets).toHaveLength(1);
      expect(body.result).toMatchObject({ provider: "auth0", delivery: "auth0_password_change_ticket" });
      const mail = await h.deps.database.db.selectFrom("mail_outbox").selectAll().where("id", "=", (body.result as { mailId: string }).mailId).executeTakeFirstOrThrow();
      expect(mail.body_text).not.toContain(tickets[0]?.ticket);
      expect(renderMailBody(mail.body_text, openMailSecrets(h.deps.config, mail.secret_sealed ?? ""))).toContain(tickets[0]?.ticket);
      expect(JSON.stringify(body)).not.toContain(tickets[0]?.ticket);
    },
  },
  {
    action: "user.lockout_clear",
    input: {},
    users: { success: "usr_demo_001_3", retry: "usr_demo_014_2", other: "usr_demo_032_2" },
    effect: async (h, userId, body) => {
      expect(await userRow(h.deps, userId)).toMatchObject({ failed_login_count: 0, locked_until: null });
      expect((body.before as { lockedUntil: string | null }).lockedUntil).not.toBeNull();
      expect(body.after).toMatchObject({ lockedUntil: null, failedLoginCount: 0 });
    },
    auth0Effect: async (h, idpId) => {
      expect(h.auth0!.blocks.get(idpId)).toEqual([]);
      expect(h.auth0!.requestsTo("DELETE", `/api/v2/user-blocks/${encodeURIComponent(idpId)}`)).toHaveLength(1);
      // The product's copy of the lock follows Auth0.
      expect(await h.deps.database.db.selectFrom("users").select(["failed_login_count", "locked_until"]).where("idp_id", "=", idpId).executeTakeFirst()).toEqual({ failed_login_count: 0, locked_until: null });
    },
  },
  {
    action: "user.mfa_reset",
    input: MFA_INPUT,
    users: { success: "usr_demo_012_1", retry: "usr_demo_012_3", other: "usr_demo_012_4" },
    invalid: { userId: "usr_demo_012_2", because: "no second factor enrolled" },
    effect: async (h, userId, body) => {
      expect(await userRow(h.deps, userId)).toMatchObject({ mfa_enrolled: false, mfa_methods: [] });
      expect(body.before).toMatchObject({ mfaEnrolled: true });
      // How the agent verified the caller is part of the audited record.
      expect(body.after).toMatchObject({ mfaEnrolled: false, identityVerification: { method: "callback_known_phone", note: "Called the number on file" } });
    },
    auth0Effect: async (h, idpId) => {
      expect(h.auth0!.methods.get(idpId)).toEqual([]);
      expect(h.auth0!.rememberBrowserInvalidated.has(idpId)).toBe(true);
      expect(await h.deps.database.db.selectFrom("users").select(["mfa_enrolled", "mfa_methods"]).where("idp_id", "=", idpId).executeTakeFirst()).toEqual({ mfa_enrolled: false, mfa_methods: [] });
    },
  },
  {
    action: "user.sessions_revoke",
    input: {},
    users: { success: "usr_demo_018_1", retry: "usr_demo_018_2", other: "usr_demo_018_3" },
    effect: async (h, userId, body) => {
      const open = await h.deps.database.db.selectFrom("user_sessions").select("id").where("user_id", "=", userId).where("revoked_at", "is", null).execute();
      expect(open).toEqual([]);
      expect(body.result).toEqual({ revoked: 1 });
    },
    auth0Effect: async (h, idpId, body) => {
      expect(h.auth0!.sessions.get(idpId)).toEqual([]);
      expect(h.auth0!.refreshTokens.get(idpId)).toBe(0);
      expect(body.result).toEqual({ revoked: 1 });
    },
  },
  {
    action: "user.block",
    input: {},
    users: { success: "usr_demo_019_2", retry: "usr_demo_019_3", other: "usr_demo_019_4" },
    invalid: { userId: "usr_demo_009_2", because: "already blocked" },
    effect: async (h, userId, body) => {
      expect((await userRow(h.deps, userId)).blocked).toBe(true);
      expect([(body.before as { blocked: boolean }).blocked, (body.after as { blocked: boolean }).blocked]).toEqual([false, true]);
    },
    auth0Effect: async (h, idpId) => {
      expect(h.auth0!.users.get(idpId)?.blocked).toBe(true);
      expect((await h.deps.database.db.selectFrom("users").select("blocked").where("idp_id", "=", idpId).executeTakeFirstOrThrow()).blocked).toBe(true);
    },
  },
  {
    action: "user.unblock",
    input: {},
    users: { success: "usr_demo_025_1", retry: "usr_demo_025_2", other: "usr_demo_025_3" },
    invalid: { userId: "usr_demo_025_4", because: "not blocked" },
    arrange: async (h) => {
      const ids = ["usr_demo_025_1", "usr_demo_025_2", "usr_demo_025_3"];
      await h.deps.database.db.updateTable("users").set({ blocked: true }).where("id", "in", ids).execute();
      for (const id of ids) h.auth0?.users.set(await idpOf(h, id), { ...h.auth0.users.get(await idpOf(h, id)), blocked: true });
    },
    effect: async (h, userId, body) => {
      expect((await userRow(h.deps, userId)).blocked).toBe(false);
      expect([(body.before as { blocked: boolean }).blocked, (body.after as { blocked: boolean }).blocked]).toEqual([true, false]);
    },
    auth0Effect: async (h, idpId) => {
      expect(h.auth0!.users.get(idpId)?.blocked).toBe(false);
      expect((await h.deps.database.db.selectFrom("users").select("blocked").where("idp_id", "=", idpId).executeTakeFirstOrThrow()).blocked).toBe(false);
    },
  },
];

const user = (id: string) => ({ type: "user" as const, id });

const arrangeAll = async (h: Harness) => {
  for (const c of cases) await c.arrange?.(h);
};

function matrix(kind: DatabaseKind) {
  describe(`auth help on ${kind} (built-in identity)`, () => {
    const h = useHarness(kind, { arrange: arrangeAll });

    describe.each(cases)("$action", (c) => {
      it("succeeds for support_full, with before/after, ticket and reason in the audit entry", async () => {
        const userId = c.users.success;
        const version = await versionOf(h.deps, user(userId));
        const res = await act(h, "support_full", c.action, { target: user(userId), input: c.input, ticketId: await raisedBy(h.deps, user(userId), "1001"), reason: "Customer asked on the ticket" });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body).toMatchObject({ action: c.action, outcome: "succeeded", replayed: false, target: user(userId) });
        const [entry, ...more] = (await auditOf(h.deps, c.action, userId)).filter((e) => e.outcome === "succeeded");
        expect(more).toHaveLength(0);
        expect(entry).toMatchObject({ id: res.body.auditEntryId, ticketId: "1001", reason: "Customer asked on the ticket", actor: { staffId: "stf_demo_full", panelRole: "support_full" } });
        expect(entry?.target).toEqual({ type: "user", id: userId, accountId: accountOfUser(userId) });
        expect(entry?.before).toEqual(res.body.before);
        expect(entry?.after).toEqual(res.body.after);
        expect((entry?.before as { version: number }).version).toBe(version);
        // The after-state carries the version the agent must send next.
        expect((res.body.after as { version: number }).version).toBe(await versionOf(h.deps, user(userId)));
        await c.effect(h, userId, res.body as Record<string, unknown>);
      });

      if (c.invalid) {
        it(`refuses with 409 invalid_transition when ${c.invalid.because}, changing nothing`, async () => {
          const userId = c.invalid!.userId;
          const before = await localState(h.deps, accountOfUser(userId));
          const res = await act(h, "support_full", c.action, { target: user(userId), input: c.input });
          expect(res.status, JSON.stringify(res.body)).toBe(409);
          expect(res.body.code).toBe("invalid_transition");
          expect(await localState(h.deps, accountOfUser(userId))).toEqual(before);
          expect((await auditOf(h.deps, c.action, userId)).map((e) => e.outcome)).toEqual(["failed"]);
        });
      }

      it("refuses support_read_only with 403 naming the action and role, audited as denied", async () => {
        const userId = c.users.other;
        const before = await localState(h.deps, accountOfUser(userId));
        const res = await act(h, "support_read_only", c.action, { target: user(userId), input: c.input, ticketId: "1003" });
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({ code: "action_not_allowed", action: c.action, requiredRole: "support_full", panelRole: "support_read_only" });
        const denied = await h.deps.database.db.selectFrom("audit_log").selectAll().where("action", "=", c.action).where("outcome", "=", "denied").where("actor_role", "=", "support_read_only").execute();
        expect(denied).toHaveLength(1);
        expect(denied[0]?.ticket_id).toBe("1003");
        expect(await localState(h.deps, accountOfUser(userId))).toEqual(before);
      });

      it("answers 400 naming the field for bad input, changing nothing", async () => {
        const userId = c.users.other;
        const before = await localState(h.deps, accountOfUser(userId));
        const audited = (await auditOf(h.deps, c.action, userId)).length;
        const res = await act(h, "support_full", c.action, { target: user(userId), input: { ...c.input, identityVerification: "asked nicely", extra: true } });
        expect(res.status).toBe(400);
        expect((res.body.errors as { field: string }[]).map((e) => e.field).join(" ")).toMatch(/body\.input/);
        const noReason = await act(h, "support_full", c.action, { target: user(userId), input: c.input, reason: " " });
        expect(noReason.status).toBe(400);
        expect(noReason.body.errors).toContainEqual(expect.objectContaining({ field: "body.reason" }));
        expect(await localState(h.deps, accountOfUser(userId))).toEqual(before);
        expect(await auditOf(h.deps, c.action, userId)).toHaveLength(audited);
      });

      it("answers 409 stale_version when the user changed since it was loaded", async () => {
        const userId = c.users.other;
        const before = await localState(h.deps, accountOfUser(userId));
        const current = await versionOf(h.deps, user(userId));
        const res = await act(h, "support_full", c.action, { target: user(userId), input: c.input, expectedVersion: current + 1 });
        expect(res.status).toBe(409);
        expect(res.body).toMatchObject({ code: "stale_version", currentVersion: current });
        expect(await localState(h.deps, accountOfUser(userId))).toEqual(before);
      });

      it("performs once when retried with the same Idempotency-Key", async () => {
        const userId = c.users.retry;
        const key = `retry-${c.action}-${userId}`;
        const first = await act(h, "support_full", c.action, { target: user(userId), input: c.input }, { idempotencyKey: key });
        expect(first.status, JSON.stringify(first.body)).toBe(200);
        const afterFirst = await localState(h.deps, accountOfUser(userId));
        const again = await act(h, "support_full", c.action, { target: user(userId), input: c.input, expectedVersion: (first.body.before as { version: number }).version }, { idempotencyKey: key });
        expect(again.status).toBe(200);
        expect(again.body).toMatchObject({ replayed: true, auditEntryId: first.body.auditEntryId, after: first.body.after });
        expect(await localState(h.deps, accountOfUser(userId))).toEqual(afterFirst);
        expect((await auditOf(h.deps, c.action, userId)).map((e) => e.outcome)).toEqual(["succeeded"]);
      });
    });
  });

  describe(`auth help on ${kind} through the Auth0 adapter (fake)`, () => {
    const h = useHarness(kind, { auth0: true, stripe: true, arrange: arrangeAll });

    describe.each(cases)("$action", (c) => {
      it("succeeds and changes the user at Auth0", async () => {
        const userId = c.users.success;
        const res = await act(h, "support_full", c.action, { target: user(userId), input: c.input });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        await c.auth0Effect(h, await idpOf(h, userId), res.body as Record<string, unknown>);
        // External calls are bracketed: a pending intent, then the outcome with the same operation id.
        const entries = await auditOf(h.deps, c.action, userId);
        expect(entries.map((e) => e.outcome)).toEqual(["pending", "succeeded"]);
        expect(entries[1]?.operationId).toBe(entries[0]?.operationId);
      });

      it("changes nothing and audits `failed` when Auth0 refuses the write (429: nothing ran)", async () => {
        const userId = c.users.other;
        const idpId = await idpOf(h, userId);
        const before = await localState(h.deps, accountOfUser(userId));
        const atAuth0 = JSON.stringify([h.auth0!.users.get(idpId), h.auth0!.blocks.get(idpId), h.auth0!.methods.get(idpId), h.auth0!.sessions.get(idpId)]);
        // The write fails (the reads the action decides from go through: Auth0's state is the truth).
        // A 5xx to a write would leave it unknown (reconcile/identityTruth.test.ts); a 429 is refused before anything runs.
        h.auth0!.failNext(3, 429, { method: AUTH0_WRITE[c.action] });
        const res = await act(h, "support_full", c.action, { target: user(userId), input: c.input });
        h.auth0!.clearFaults();
        expect(res.status).toBe(503);
        expect(res.body).toMatchObject({ code: "provider_rate_limited", provider: "auth0" });
        expect(await localState(h.deps, accountOfUser(userId))).toEqual(before);
        expect(JSON.stringify([h.auth0!.users.get(idpId), h.auth0!.blocks.get(idpId), h.auth0!.methods.get(idpId), h.auth0!.sessions.get(idpId)])).toBe(atAuth0);
        const entries = await auditOf(h.deps, c.action, userId);
        expect(entries.map((e) => e.outcome)).toEqual(["pending", "failed"]);
        expect(entries[1]?.error).toMatch(/^provider_rate_limited: Auth0/);
      });

      it("calls Auth0 once when the agent retries with the same Idempotency-Key", async () => {
        const userId = c.users.retry;
        const sent = h.auth0!.requests.length;
        const first = await act(h, "support_full", c.action, { target: user(userId), input: c.input }, { idempotencyKey: `auth0-${c.action}` });
        expect(first.status, JSON.stringify(first.body)).toBe(200);
        const calls = h.auth0!.requests.length - sent;
        const again = await act(h, "support_full", c.action, { target: user(userId), input: c.input, expectedVersion: (first.body.before as { version: number }).version }, { idempotencyKey: `auth0-${c.action}` });
        expect(again.body.replayed).toBe(true);
        expect(h.auth0!.requests.length - sent).toBe(calls);
      });
    });
  });
}

describe.each(databaseKinds)("%s", (kind) => {
  matrix(kind);
});

describe("envelope", () => {
  const h = useHarness("pglite");

  it("lists every auth-help and status action in the OpenAPI document, each with its preview (taking access away, giving it back, or changing how the user signs in)", async () => {
    const doc = (await request(h.app).get("/api/openapi.json")).body as { paths: Record<string, unknown> };
    const actions = ["password_reset", "lockout_clear", "mfa_reset", "sessions_revoke", "block", "unblock", "activate", "suspend", "deactivate", "delete"].map((a) => `user.${a}`);
    actions.push(...["suspend", "unsuspend", "deactivate", "activate", "delete"].map((a) => `account.${a}`));
    for (const action of actions) expect(doc.paths, action).toHaveProperty([`/api/actions/${action}`]);
    const previews = Object.keys(doc.paths).filter((p) => /^\/api\/actions\/(user|account)\.[a-z_]+\/preview$/.test(p));
    expect(previews.sort()).toEqual(
      [...actions, "user.elevate_temporarily", "user.promote_admin", "user.role_change", "user.impersonation_protect", "user.impersonation_unprotect"].sort().map((a) => `/api/actions/${a}/preview`),
    );
    expect(doc.paths).toHaveProperty(["/api/demo/outbox"]);
  });

  it("requires a ticket id and a reason on every write", async () => {
    const res = await request(h.app)
      .post("/api/actions/user.block")
      .set("Authorization", `Bearer ${await sessionOf(h, "support_full")}`)
      .send({ target: user("usr_demo_011_4"), expectedVersion: 1, input: {} });
    expect(res.status).toBe(400);
    expect((res.body.errors as { field: string }[]).map((e) => e.field).sort()).toEqual(["body.reason", "body.ticketId"]);
    expect((await userRow(h.deps, "usr_demo_011_4")).blocked).toBe(false);
  });
});
