import type { Management, ManagementClient } from "auth0";
import type { IdentitySummary } from "../../../../shared/schemas/context.js";
import type { Clock } from "../../clock.js";
import type { ProviderCaller } from "../providerCall.js";
import { ProviderError } from "../providerError.js";
import type { IdentityPort, IdentityUserRef, PasswordResetDelivery } from "../ports.js";

/** Auth0 log event codes (https://auth0.com/docs/logs/log-event-type-codes) → Steward's auth event types. */
const LOG_EVENT_TYPES: Record<string, string> = {
  s: "login",
  f: "login_failed",
  fp: "login_failed",
  fu: "login_failed",
  limit_wc: "locked",
  limit_mu: "locked",
  limit_sul: "locked",
  slo: "logout",
  scp: "password_changed",
  scpn: "password_changed",
  scpr: "password_reset_requested",
  gd_enrollment_complete: "mfa_enrolled",
};
/** Primary-sign-in methods; everything else Auth0 lists is a second factor. */
const NOT_MFA = new Set<string>(["password", "passkey", "email-verification"]);
const RECENT_LOGS = 20;
const RECENT_AUTH_EVENTS = 10;
const RESET_TICKET_TTL_SEC = 24 * 3600;
/** Pages of sessions read to count them (100 each): a bound on calls for a user with thousands. */
const MAX_SESSION_PAGES = 10;
/**
 * Auth0 takes no idempotency key: a write answered 5xx (or not at all) may have been applied, so its
 * outcome is unknown and the reconciler re-reads the user to settle it (every write here is safe to repeat).
 */
const WRITE = { write: true } as const;

type Auth0User = Management.GetUserResponseContent;

function isoDate(value: unknown): string | null {
  if (typeof value !== "string" || !value) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

function userIdOf(user: Auth0User): string {
  if (!user.user_id) throw new ProviderError({ provider: "auth0", code: "rejected", operation: "users.listUsersByEmail", message: "Auth0 returned a user without user_id" });
  return user.user_id;
}

export interface Auth0IdentityOptions {
  /** The database connection whose user wins when one email has several Auth0 identities. */
  connection: string;
  clock: Clock;
}

/**
 * Identity from Auth0's Management API. A product user maps to Auth0 by `idpId` (the Auth0 user_id);
 * without one, by email. With an idpId every read goes out at once, so a lookup costs one round trip.
 */
export class Auth0Identity implements IdentityPort {
  readonly name = "auth0" as const;

  constructor(
    private readonly client: ManagementClient,
    private readonly caller: ProviderCaller,
    private readonly options: Auth0IdentityOptions,
  ) {}

  async getIdentity(ref: IdentityUserRef): Promise<IdentitySummary> {
    const userRead = ref.idpId ? this.getUser(ref.idpId) : this.findByEmail(ref.email);
    const id = ref.idpId ?? userIdOf(await userRead);
    const [user, blocks, methods, sessions, logs] = await Promise.all([
      userRead,
      this.caller.call("userBlocks.list", ({ signal }) => this.client.userBlocks.list(id, {}, { abortSignal: signal })),
      this.caller.call("users.authenticationMethods.list", async ({ signal }) => (await this.client.users.authenticationMethods.list(id, { page: 0, per_page: 50 }, { abortSignal: signal })).data),
      this.countSessions(id),
      this.caller.call("users.logs.list", async ({ signal }) => (await this.client.users.logs.list(id, { page: 0, per_page: RECENT_LOGS, sort: "date:-1" }, { abortSignal: signal })).data),
    ]);

    const mfaMethods = [...new Set([...methods.filter((m) => m.confirmed !== false && !NOT_MFA.has(m.type)).map((m) => m.type), ...(user.multifactor ?? [])])];
    const events = logs
      .filter((log) => log.type !== undefined && LOG_EVENT_TYPES[log.type] !== undefined)
      .map((log) => ({ type: LOG_EVENT_TYPES[log.type as string] as string, at: isoDate(log.date), ip: log.ip ?? null, detail: log.description ?? null }))
      .filter((e): e is { type: string; at: string; ip: string | null; detail: string | null } => e.at !== null);
    // Auth0 keeps no counter: count the failures since the last successful sign-in.
    const lastSuccess = events.findIndex((e) => e.type === "login");
    const failedLoginCount = (lastSuccess === -1 ? events : events.slice(0, lastSuccess)).filter((e) => e.type === "login_failed").length;
    return {
      providerUserId: user.user_id ?? id,
      email: user.email ?? ref.email,
      blocked: user.blocked === true,
      locked: (blocks.blocked_for ?? []).length > 0,
      // Auth0 does not say when a brute-force block lifts on its own.
      lockedUntil: null,
      failedLoginCount,
      mfaEnrolled: mfaMethods.length > 0,
      mfaMethods,
      lastLoginAt: isoDate(user.last_login),
      activeSessions: sessions,
      recentAuthEvents: events.slice(0, RECENT_AUTH_EVENTS),
    };
  }

  /** The Management API cannot send Auth0's reset email; it issues a one-time link the caller delivers. */
  async sendPasswordReset(ref: IdentityUserRef): Promise<PasswordResetDelivery> {
    const id = await this.userId(ref);
    const issued = this.options.clock.now().getTime();
    const { ticket } = await this.caller.call("tickets.changePassword", ({ signal }) =>
      this.client.tickets.changePassword({ user_id: id, ttl_sec: RESET_TICKET_TTL_SEC }, { abortSignal: signal }),
      WRITE,
    );
    return { method: "ticket", ticketUrl: ticket, expiresAt: new Date(issued + RESET_TICKET_TTL_SEC * 1000).toISOString() };
  }

  /** Lifts a brute-force block; an admin block is `setBlocked(false)`. */
  async clearLockout(ref: IdentityUserRef): Promise<void> {
    const id = await this.userId(ref);
    await this.caller.call("userBlocks.delete", ({ signal }) => this.client.userBlocks.delete(id, { abortSignal: signal }), WRITE);
  }

  async resetMfa(ref: IdentityUserRef): Promise<void> {
    const id = await this.userId(ref);
    await this.inOrder("reset MFA", [
      ["authentication methods removed", () => this.caller.call("users.authenticationMethods.deleteAll", ({ signal }) => this.client.users.authenticationMethods.deleteAll(id, { abortSignal: signal }), WRITE)],
      ["Guardian enrolments removed", () => this.caller.call("users.authenticators.deleteAll", ({ signal }) => this.client.users.authenticators.deleteAll(id, { abortSignal: signal }), WRITE)],
      ["remembered browsers forgotten", () => this.caller.call("users.multifactor.invalidateRememberBrowser", ({ signal }) => this.client.users.multifactor.invalidateRememberBrowser(id, { abortSignal: signal }), WRITE)],
    ]);
  }

  /** Counts the sessions first (Auth0's delete returns nothing), then ends them and their refresh tokens. */
  async revokeSessions(ref: IdentityUserRef): Promise<{ revoked: number }> {
    const id = await this.userId(ref);
    const sessions = await this.countSessions(id);
    await this.inOrder("revoke sessions", [
      ["sessions ended", () => this.caller.call("users.sessions.delete", ({ signal }) => this.client.users.sessions.delete(id, { abortSignal: signal }), WRITE)],
      ["refresh tokens revoked", () => this.caller.call("users.refreshToken.delete", ({ signal }) => this.client.users.refreshToken.delete(id, { abortSignal: signal }), WRITE)],
    ]);
    return { revoked: sessions };
  }

  /** Auth0 lists at most 100 sessions a page: the `next` cursors are followed (bounded) to count them all. */
  private async countSessions(id: string): Promise<number> {
    let count = 0;
    let from: string | undefined;
    for (let page = 0; page < MAX_SESSION_PAGES; page++) {
      const { sessions, next } = await this.caller.call("users.sessions.list", async ({ signal }) => (await this.client.users.sessions.list(id, { take: 100, ...(from ? { from } : {}) }, { abortSignal: signal })).response);
      count += sessions?.length ?? 0;
      if (!next || !sessions?.length) break;
      from = next;
    }
    return count;
  }

  /**
   * Several writes that make one change and cannot be undone: when one fails after others took
   * effect, the error says what was done and is marked partly applied (the caller must not report
   * "nothing changed"). Each write is idempotent, so running them all again completes the change.
   */
  private async inOrder(what: string, writes: [done: string, write: () => Promise<unknown>][]): Promise<void> {
    const done: string[] = [];
    for (const [label, write] of writes) {
      try {
        await write();
      } catch (err) {
        if (done.length === 0 || !(err instanceof ProviderError)) throw err;
        throw new ProviderError({
          provider: "auth0",
          code: err.code,
          status: err.status,
          operation: err.operation,
          partlyApplied: true,
          message: `${what}: ${done.join(", ")}; then ${err.message}`,
          cause: err,
        });
      }
      done.push(label);
    }
  }

  async setBlocked(ref: IdentityUserRef, blocked: boolean): Promise<void> {
    const id = await this.userId(ref);
    await this.caller.call("users.update", ({ signal }) => this.client.users.update(id, { blocked }, { abortSignal: signal }), WRITE);
  }

  async isBlocked(ref: IdentityUserRef): Promise<boolean> {
    return (await this.getUser(await this.userId(ref))).blocked === true;
  }

  private getUser(id: string): Promise<Auth0User> {
    return this.caller.call("users.get", ({ signal }) => this.client.users.get(id, {}, { abortSignal: signal }));
  }

  private async userId(ref: IdentityUserRef): Promise<string> {
    return ref.idpId ?? userIdOf(await this.findByEmail(ref.email));
  }

  /**
   * One email can have several Auth0 identities (database, social); the database connection's wins.
   * Auth0 matches the address exactly, case included, and keeps its database users' in lower case
   * (other IdPs' as they sent it): a product address in mixed case is asked for both ways.
   */
  private async findByEmail(email: string): Promise<Auth0User> {
    const spellings = [...new Set([email.toLowerCase(), email])];
    const found = await Promise.all(spellings.map((address) => this.caller.call("users.listUsersByEmail", ({ signal }) => this.client.users.listUsersByEmail({ email: address }, { abortSignal: signal }))));
    const users = [...new Map(found.flat().map((u) => [u.user_id, u])).values()];
    const chosen = users.find((u) => u.identities?.some((i) => i.connection === this.options.connection)) ?? users[0];
    if (!chosen) throw new ProviderError({ provider: "auth0", code: "not_found", status: 404, operation: "users.listUsersByEmail", message: `no Auth0 user with email ${email}` });
    return chosen;
  }
}
