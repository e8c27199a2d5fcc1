import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import type { JWTVerifyGetKey } from "jose";
import { EventBuffer, type EventBufferOptions } from "./eventBuffer.js";
import { decide, type GuardDecision, type RouteRule } from "./guard.js";
import { StewardApiError, StewardClient } from "./stewardClient.js";
import type { Impersonation, KitEvent, SessionStatus } from "./types.js";
import { clip } from "./text.js";
import { remoteKeys, verifyGrant } from "./verifyGrant.js";

/**
 * The framework-neutral core: starts sessions from grants, keeps each session's status fresh (a poll
 * every `pollMs`, so an end or revocation on Steward is seen within 5 s), reports what the agent does,
 * and says what the guard allows: nothing while Steward has not confirmed the session within
 * `confirmWithinMs`. Adapters (Express) map requests and responses onto it.
 */
export interface KitOptions {
  /** Steward's public URL: the grant's issuer, its JWKS and its API. */
  stewardUrl: string;
  /** `<product id>.<secret>` from `npm run steward -- products add`. */
  credential: string;
  /** How often live sessions are checked (≤ 2500 ms keeps the 5 s promise). */
  pollMs?: number;
  /**
   * How long a session may go without Steward confirming it is still live (default 5000 ms; more than `pollMs`).
   * Past that (Steward unreachable, say) the guard refuses the agent's requests until a check answers again:
   * a revocation made meanwhile would otherwise not be enforced. The session is not ended for it.
   */
  confirmWithinMs?: number;
  /** Routes refused in read-only mode on top of every unsafe method. */
  readOnlyDeny?: RouteRule[];
  /** Replaces the built-in always-deny list (password, email, 2FA, payment methods, API keys, admins). */
  alwaysDeny?: RouteRule[];
  events?: EventBufferOptions;
  /** For tests: a key resolver instead of the remote JWKS. */
  keys?: JWTVerifyGetKey;
  onError?: (err: unknown) => void;
}

interface Tracked {
  status: SessionStatus;
  active: boolean;
  /** When the session ends on this machine's clock: Steward's remainingSeconds counted from when it answered, so clock skew does not matter. */
  deadline: number;
  /** When the check whose answer this is was sent (this machine's clock): Steward's status held at least then. */
  confirmedAt: number;
}

/**
 * A failed End worth sending again: Steward unreachable or failing. A refusal (4xx: the ticket closed, say)
 * would be refused again, and audited again, at every poll; the session then ends on Steward at its idle deadline.
 */
function endWorthRetrying(err: StewardApiError): boolean {
  return err.retryable;
}

/** `askedAt`: when the request that brought `status` was sent; a revocation after it is not in this answer. */
function trackedFrom(status: SessionStatus, askedAt: number): Tracked {
  return { status, active: false, deadline: Date.now() + status.remainingSeconds * 1000, confirmedAt: askedAt };
}

const UNCONFIRMED_REASON = "Steward cannot be reached to confirm that this support session is still allowed, so nothing can be done in it for now. It resumes by itself once Steward answers.";

export class ImpersonationKit {
  readonly productId: string;
  private readonly client: StewardClient;
  private readonly keys: JWTVerifyGetKey;
  private readonly buffer: EventBuffer;
  private readonly sessions = new Map<string, Tracked>();
  private readonly endListeners: ((status: SessionStatus) => void)[] = [];
  private readonly secret: string;
  private poller: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly endsPending = new Set<string>();
  private readonly confirmWithinMs: number;

  constructor(readonly options: KitOptions) {
    // Checked here, so a mistake shows at start-up rather than as "Steward is unreachable" on the first grant.
    let url: URL | null = null;
    try {
      url = new URL(options.stewardUrl);
    } catch {
      /* reported below */
    }
    if (!url || !["http:", "https:"].includes(url.protocol)) throw new Error(`stewardUrl: expected Steward's public URL (http:// or https://), got ${JSON.stringify(String(options.stewardUrl))}`);
    // The shape Steward issues (npm run steward -- products add); the message never repeats the secret.
    const [, productId, secret] = /^(prd_[A-Za-z0-9_-]{1,60})\.(sps_[A-Za-z0-9_-]{20,100})$/.exec(String(options.credential)) ?? [];
    if (!productId || !secret) throw new Error("credential: expected <product id>.<secret> exactly as printed by `npm run steward -- products add` (no spaces or line breaks)");
    this.productId = productId;
    this.secret = secret;
    this.client = new StewardClient({ stewardUrl: options.stewardUrl, credential: options.credential });
    this.keys = options.keys ?? remoteKeys(options.stewardUrl);
    // A report of events Steward refused needs a time it accepts: the session's start as Steward gave it always is one.
    this.buffer = new EventBuffer(this.client, { ...options.events, onError: options.onError, sessionStart: (sid) => this.sessions.get(sid)?.status.startedAt });
    const pollMs = options.pollMs ?? 2000;
    this.confirmWithinMs = options.confirmWithinMs ?? 5000;
    // A bound the poller cannot meet would refuse every request of a healthy session.
    if (!(this.confirmWithinMs > pollMs)) throw new Error(`confirmWithinMs: must be more than pollMs (${pollMs} ms), got ${JSON.stringify(options.confirmWithinMs ?? this.confirmWithinMs)}`);
    this.poller = setInterval(() => void this.poll(), pollMs);
    this.poller.unref?.();
  }

  /** Verifies the grant, redeems it (once) and starts tracking the session. */
  async begin(grant: string): Promise<Impersonation> {
    const claims = await verifyGrant(grant, this.keys, { issuer: this.options.stewardUrl, productId: this.productId });
    const askedAt = Date.now();
    const status = await this.client.redeem(grant);
    this.sessions.set(status.sid, trackedFrom(status, askedAt));
    return this.toImpersonation(status, claims.sub);
  }

  private toImpersonation(status: SessionStatus, userId = status.user.id): Impersonation {
    return { sid: status.sid, mode: status.mode, ticket: status.ticket, userId, agent: status.agent, status };
  }

  /**
   * The session behind a cookie value, or null when Steward does not know it; ended sessions are
   * returned (with status "ended"). Throws a StewardApiError when Steward cannot say (unreachable):
   * the caller refuses the request rather than let it through unchecked.
   */
  async lookup(sid: string): Promise<Impersonation | null> {
    let known = this.sessions.get(sid);
    if (!known) {
      // Another process of the product redeemed it, or this one restarted: ask Steward.
      let status: SessionStatus;
      const askedAt = Date.now();
      try {
        status = await this.client.status(sid, false);
      } catch (err) {
        if (err instanceof StewardApiError && err.status === 404) return null;
        throw err;
      }
      known = trackedFrom(status, askedAt);
      this.sessions.set(sid, known);
    }
    // The time limit holds here too, even if Steward cannot be reached to say so.
    if (known.status.status === "live" && Date.now() >= known.deadline) {
      // Which limit it was is known here: the nearer deadline counted down was the time limit or the idle limit.
      const endReason = known.status.endsAt === known.status.absoluteDeadline ? "absolute_timeout" : "idle_timeout";
      this.markEnded({ ...known.status, status: "ended", remainingSeconds: 0, endedAt: new Date().toISOString(), endReason });
    }
    return this.toImpersonation(this.sessions.get(sid)?.status ?? known.status);
  }

  /** Seconds left on this machine's clock (0 when ended or unknown): what the banner counts down, whatever the browser's clock says. */
  secondsLeft(sid: string): number {
    const known = this.sessions.get(sid);
    return known?.status.status === "live" ? Math.max(0, Math.floor((known.deadline - Date.now()) / 1000)) : 0;
  }

  isLive(sid: string): boolean {
    const known = this.sessions.get(sid);
    return known?.status.status === "live" && Date.now() < known.deadline;
  }

  /**
   * Whether Steward confirmed the live session within `confirmWithinMs`. When it has not, the session is
   * neither ended nor allowed to act: a revocation made while Steward was out of reach would not be seen.
   */
  isConfirmed(sid: string): boolean {
    const known = this.sessions.get(sid);
    return known !== undefined && Date.now() - known.confirmedAt <= this.confirmWithinMs;
  }

  /** The agent did something: the next status check moves the idle deadline. */
  touch(sid: string): void {
    const tracked = this.sessions.get(sid);
    if (tracked) tracked.active = true;
  }

  guard(impersonation: Impersonation, method: string, path: string): GuardDecision {
    if (impersonation.status.status === "live" && !this.isConfirmed(impersonation.sid)) return { allowed: false, reason: UNCONFIRMED_REASON, unconfirmed: true };
    return decide(impersonation.mode, method, path, { readOnlyDeny: this.options.readOnlyDeny, alwaysDeny: this.options.alwaysDeny });
  }

  record(sid: string, event: Omit<KitEvent, "id" | "occurredAt"> & { occurredAt?: string }): void {
    // Kept within Steward's limits: one over-long field would have its whole batch refused, and lost.
    const { route, object, detail } = event;
    this.buffer.add(sid, { id: randomUUID(), occurredAt: new Date().toISOString(), ...event, route: clip(route, 300), object: object === null ? null : clip(object, 300), detail: detail === null ? null : clip(detail, 500) });
  }

  onEnded(listener: (status: SessionStatus) => void): void {
    this.endListeners.push(listener);
  }

  /**
   * The End button: ends the session on Steward, then locally. When Steward does not confirm (unreachable,
   * failing), the session ends here at once and the end is sent again at each poll until Steward answers.
   */
  async end(sid: string): Promise<SessionStatus> {
    await this.buffer.flush(sid);
    try {
      const status = await this.client.end(sid);
      this.endsPending.delete(sid);
      this.markEnded(status);
      return status;
    } catch (err) {
      const known = this.sessions.get(sid);
      if (!known || !(err instanceof StewardApiError)) throw err;
      this.options.onError?.(err);
      if (endWorthRetrying(err)) this.endsPending.add(sid);
      if (known.status.status === "live") this.markEnded({ ...known.status, status: "ended", remainingSeconds: 0, endedAt: new Date().toISOString(), endReason: "agent" });
      return this.sessions.get(sid)?.status ?? known.status;
    }
  }

  /** Ends Steward did not confirm yet: sent again until it answers. */
  private async retryEnds(): Promise<void> {
    for (const sid of [...this.endsPending]) {
      try {
        this.markEnded(await this.client.end(sid));
        this.endsPending.delete(sid);
      } catch (err) {
        if (!(err instanceof StewardApiError) || !endWorthRetrying(err)) this.endsPending.delete(sid);
        this.options.onError?.(err);
      }
    }
  }

  /** Checks every live session now (the poller calls this). */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await this.retryEnds();
      await Promise.all(
        [...this.sessions.entries()]
          .filter(([, t]) => t.status.status === "live")
          .map(async ([sid, tracked]) => {
            const heartbeat = tracked.active;
            tracked.active = false;
            const askedAt = Date.now();
            try {
              const status = await this.client.status(sid, heartbeat);
              if (status.status === "ended") this.markEnded(status);
              else Object.assign(tracked, trackedFrom(status, askedAt), { active: tracked.active });
            } catch (err) {
              if (heartbeat) tracked.active = true;
              this.options.onError?.(err);
            }
          }),
      );
    } finally {
      this.polling = false;
    }
  }

  private markEnded(status: SessionStatus): void {
    const tracked = this.sessions.get(status.sid);
    const wasLive = tracked?.status.status !== "ended";
    this.sessions.set(status.sid, trackedFrom(status, Date.now()));
    if (wasLive) {
      void this.buffer.flush(status.sid);
      for (const listener of this.endListeners) listener(status);
    }
  }

  pendingEvents(sid?: string): number {
    return this.buffer.pending(sid);
  }

  flush(): Promise<void> {
    return this.buffer.flush();
  }

  /** A cookie value that names the session and cannot be forged without the product secret. */
  seal(sid: string): string {
    return `${sid}.${createHmac("sha256", this.secret).update(sid).digest("base64url")}`;
  }

  unseal(value: string | undefined): string | null {
    if (!value) return null;
    const at = value.lastIndexOf(".");
    if (at < 0) return null;
    const sid = value.slice(0, at);
    const expected = Buffer.from(this.seal(sid));
    const given = Buffer.from(value);
    return expected.length === given.length && timingSafeEqual(expected, given) ? sid : null;
  }

  async close(): Promise<void> {
    clearInterval(this.poller);
    await this.buffer.flush().catch(() => undefined);
    this.buffer.close();
  }
}
