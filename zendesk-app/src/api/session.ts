import type { SessionGrant as SharedSessionGrant } from "../../../shared/schemas/session";

/**
 * The Steward session the server embedded in the page (meta tags written by POST /app). It is
 * renewed shortly before it expires, so an agent can keep the ticket open all day.
 */
const RENEW_BEFORE_MS = 2 * 60_000;
const RETRY_MS = 30_000;

/** What the page needs of a grant (POST /app meta tags, or POST /api/session/renew's SessionGrant). */
export type SessionGrant = Pick<SharedSessionGrant, "sessionToken" | "expiresAt">;

export type SessionState = "active" | "expired";

export function readSessionFromPage(doc: Document): SessionGrant | null {
  const token = doc.querySelector<HTMLMetaElement>('meta[name="steward-session"]')?.content;
  const expires = doc.querySelector<HTMLMetaElement>('meta[name="steward-session-expires"]')?.content;
  if (!token) return null;
  return { sessionToken: token, expiresAt: expires && !Number.isNaN(Date.parse(expires)) ? expires : new Date(Date.now() + 10 * 60_000).toISOString() };
}

export class Session {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private listeners = new Set<(state: SessionState) => void>();

  constructor(
    private grant: SessionGrant,
    private readonly renew: (token: string) => Promise<SessionGrant>,
  ) {}

  get token(): string {
    return this.grant.sessionToken;
  }

  get expired(): boolean {
    return Date.parse(this.grant.expiresAt) <= Date.now();
  }

  onChange(listener: (state: SessionState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Schedules renewal before expiry; on failure retries until the session has run out. */
  keepFresh(): void {
    clearTimeout(this.timer);
    const left = Date.parse(this.grant.expiresAt) - Date.now();
    if (left <= 0) return this.emit("expired");
    // Two minutes ahead, or halfway through a short session, so a renewal never races the expiry.
    this.timer = setTimeout(() => void this.renewNow(), Math.max(left - Math.min(RENEW_BEFORE_MS, left / 2), 1_000));
  }

  async renewNow(): Promise<void> {
    try {
      this.grant = await this.renew(this.grant.sessionToken);
      this.emit("active");
      this.keepFresh();
    } catch {
      const left = Date.parse(this.grant.expiresAt) - Date.now();
      if (left <= 0) return this.emit("expired");
      this.timer = setTimeout(() => void this.renewNow(), Math.min(RETRY_MS, left));
    }
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private emit(state: SessionState): void {
    for (const listener of this.listeners) listener(state);
  }
}
