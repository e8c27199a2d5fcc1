import { SessionStatus, type KitEvent } from "./types.js";

/**
 * The product's side of Steward's impersonation API, authenticated with the product credential
 * (`<product id>.<secret>` from `npm run steward -- products add`). Errors carry the HTTP status, so
 * callers can tell a refusal (4xx: do not retry) from a failure worth retrying.
 */
export class StewardApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The fields a 400 names (problem+json `errors`), e.g. `body.events.3.occurredAt`: what the caller could take out. */
    readonly errors: { field: string; reason: string }[] = [],
  ) {
    super(message);
    this.name = "StewardApiError";
  }
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export interface StewardClientOptions {
  stewardUrl: string;
  credential: string;
  timeoutMs?: number;
}

export class StewardClient {
  private readonly base: string;
  constructor(private readonly options: StewardClientOptions) {
    this.base = options.stewardUrl.replace(/\/$/, "");
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.options.credential}`, ...(body ? { "content-type": "application/json" } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 4000),
      });
    } catch (err) {
      throw new StewardApiError(0, "unreachable", `Steward is unreachable: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await response.text().catch(() => "");
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // A proxy's error page, say: a failure worth retrying, never a crash of the caller.
      throw new StewardApiError(response.ok ? 502 : response.status, "invalid_response", `Steward answered ${response.status} with a body that is not JSON`);
    }
    if (!response.ok) {
      const problem = (parsed ?? {}) as { code?: string; detail?: string; title?: string; errors?: unknown };
      const errors = Array.isArray(problem.errors) ? (problem.errors as { field?: unknown; reason?: unknown }[]).filter((e) => typeof e?.field === "string").map((e) => ({ field: String(e.field), reason: String(e.reason ?? "") })) : [];
      throw new StewardApiError(response.status, problem.code ?? "error", problem.detail ?? problem.title ?? `Steward answered ${response.status}`, errors);
    }
    return parsed;
  }

  async redeem(grant: string): Promise<SessionStatus> {
    return SessionStatus.parse(await this.call("POST", "/api/impersonation/redeem", { grant }));
  }

  async status(sid: string, heartbeat: boolean): Promise<SessionStatus> {
    return SessionStatus.parse(await this.call("GET", `/api/impersonation/sessions/${encodeURIComponent(sid)}${heartbeat ? "?heartbeat=true" : ""}`));
  }

  async end(sid: string): Promise<SessionStatus> {
    return SessionStatus.parse(await this.call("POST", `/api/impersonation/sessions/${encodeURIComponent(sid)}/end`, {}));
  }

  async postEvents(sid: string, events: KitEvent[]): Promise<void> {
    await this.call("POST", `/api/impersonation/sessions/${encodeURIComponent(sid)}/events`, { events });
  }
}
