import type { Kysely, Selectable, Transaction } from "kysely";
import type { IdentitySummary } from "../../../../shared/schemas/context.js";
import type { Clock } from "../../clock.js";
import type { DB, UsersTable } from "../../db/schema.js";
import type { IdentityPort, IdentityUserRef, PasswordResetDelivery, ProviderCallContext } from "../ports.js";
import { builtinCall, builtinNotFound } from "./builtinCall.js";

/** Activity event types that describe signing in, as the product records them. */
export const AUTH_EVENT_TYPES = ["login", "login_failed", "logout", "locked", "password_reset_requested", "password_changed", "mfa_enrolled"] as const;

export const RECENT_AUTH_EVENTS = 10;

type Executor = Kysely<DB> | Transaction<DB>;

/** The users columns an identity summary is made from. */
export type IdentityRow = Pick<Selectable<UsersTable>, "id" | "email" | "blocked" | "failed_login_count" | "locked_until" | "mfa_enrolled" | "mfa_methods" | "last_login_at">;
export interface AuthEventRow {
  type: string;
  occurred_at: Date;
  ip: string | null;
  detail: string | null;
}

/** Shared by getIdentity and the one-statement requester context (lookup/builtinContext.ts), so both answer alike. */
export function identitySummaryOf(row: IdentityRow, activeSessions: number, events: AuthEventRow[], now: Date): IdentitySummary {
  const locked = row.locked_until !== null && row.locked_until.getTime() > now.getTime();
  return {
    providerUserId: row.id,
    email: row.email,
    blocked: row.blocked,
    locked,
    lockedUntil: locked && row.locked_until ? row.locked_until.toISOString() : null,
    failedLoginCount: row.failed_login_count,
    mfaEnrolled: row.mfa_enrolled,
    mfaMethods: row.mfa_methods,
    lastLoginAt: row.last_login_at ? row.last_login_at.toISOString() : null,
    activeSessions,
    recentAuthEvents: events.map((e) => ({ type: e.type, at: e.occurred_at.toISOString(), ip: e.ip, detail: e.detail })),
  };
}

/**
 * Identity from the product's own tables: users (blocked, lockout, MFA, last login), user_sessions
 * and activity_events. Writes go through `ctx.executor` so they commit with the caller's audit entry.
 */
export class BuiltinIdentity implements IdentityPort {
  readonly name = "builtin" as const;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly clock: Clock,
  ) {}

  getIdentity(user: IdentityUserRef): Promise<IdentitySummary> {
    return builtinCall("identity.get", async () => {
      const row = await this.db
        .selectFrom("users")
        .select(["id", "email", "blocked", "failed_login_count", "locked_until", "mfa_enrolled", "mfa_methods", "last_login_at"])
        .where("id", "=", user.id)
        .executeTakeFirst();
      if (!row) throw builtinNotFound("identity.get", `no product user ${user.id}`);
      const sessions = await this.db
        .selectFrom("user_sessions")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("user_id", "=", user.id)
        .where("revoked_at", "is", null)
        .executeTakeFirstOrThrow();
      const events = await this.db
        .selectFrom("activity_events")
        .select(["type", "occurred_at", "ip", "detail"])
        .where("user_id", "=", user.id)
        .where("type", "in", [...AUTH_EVENT_TYPES])
        .orderBy("occurred_at", "desc")
        .orderBy("id", "desc")
        .limit(RECENT_AUTH_EVENTS)
        .execute();
      return identitySummaryOf(row, Number(sessions.n), events, this.clock.now());
    });
  }

  /** The product mails its own reset link; we record the request so it shows in the user's auth events. */
  sendPasswordReset(user: IdentityUserRef, ctx: ProviderCallContext): Promise<PasswordResetDelivery> {
    return builtinCall("identity.password_reset", async () => {
      const db = this.executor(ctx);
      const row = await db.selectFrom("users").select(["account_id"]).where("id", "=", user.id).executeTakeFirst();
      if (!row) throw builtinNotFound("identity.password_reset", `no product user ${user.id}`);
      await db
        .insertInto("activity_events")
        .values({ account_id: row.account_id, user_id: user.id, type: "password_reset_requested", detail: "requested by support", ip: null, occurred_at: this.clock.now() })
        .execute();
      return { method: "email" };
    });
  }

  clearLockout(user: IdentityUserRef, ctx: ProviderCallContext): Promise<void> {
    return this.updateUser("identity.clear_lockout", user, ctx, { failed_login_count: 0, locked_until: null });
  }

  resetMfa(user: IdentityUserRef, ctx: ProviderCallContext): Promise<void> {
    return this.updateUser("identity.reset_mfa", user, ctx, { mfa_enrolled: false, mfa_methods: [] });
  }

  setBlocked(user: IdentityUserRef, blocked: boolean, ctx: ProviderCallContext): Promise<void> {
    return this.updateUser("identity.set_blocked", user, ctx, { blocked });
  }

  revokeSessions(user: IdentityUserRef, ctx: ProviderCallContext): Promise<{ revoked: number }> {
    return builtinCall("identity.revoke_sessions", async () => {
      const db = this.executor(ctx);
      const exists = await db.selectFrom("users").select("id").where("id", "=", user.id).executeTakeFirst();
      if (!exists) throw builtinNotFound("identity.revoke_sessions", `no product user ${user.id}`);
      const revoked = await db
        .updateTable("user_sessions")
        .set({ revoked_at: this.clock.now() })
        .where("user_id", "=", user.id)
        .where("revoked_at", "is", null)
        .returning("id")
        .execute();
      return { revoked: revoked.length };
    });
  }

  private updateUser(
    operation: string,
    user: IdentityUserRef,
    ctx: ProviderCallContext,
    change: { failed_login_count?: number; locked_until?: null; mfa_enrolled?: boolean; mfa_methods?: string[]; blocked?: boolean },
  ): Promise<void> {
    return builtinCall(operation, async () => {
      // Outside a transaction this is one step of an action with an external port (the product's
      // directory, Stripe): that action's commit bumps what it changed, and a bump here would look like
      // someone else's change to its stale check.
      const updated = await this.executor(ctx)
        .updateTable("users")
        .set((eb) => ({ ...change, updated_at: this.clock.now(), ...(ctx.executor ? { version: eb("version", "+", 1) } : {}) }))
        .where("id", "=", user.id)
        .returning("id")
        .executeTakeFirst();
      if (!updated) throw builtinNotFound(operation, `no product user ${user.id}`);
    });
  }

  private executor(ctx: ProviderCallContext): Executor {
    return ctx.executor ?? this.db;
  }
}
