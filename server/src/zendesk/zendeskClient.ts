import type { Config } from "../config.js";

/**
 * Steward's server-side Zendesk API client (internal notes when no sidebar is open). Auth is an API
 * token (`{email}/token:{token}`, HTTP basic). Every call has three outcomes: done, refused (nothing
 * was written), or unknown (timeout, connection lost after sending).
 */
export type ZendeskCallResult = { outcome: "succeeded"; commentId: number | null } | { outcome: "failed"; error: string; retryAfterMs?: number } | { outcome: "unknown"; error: string };

/** Whether a comment containing a marker is on the ticket: the re-read that settles a note whose answer was lost. */
export type ZendeskFindResult = { outcome: "found"; commentId: number | null } | { outcome: "absent" } | { outcome: "unknown"; error: string };

/**
 * A read of one ticket: found (the raw JSON, parsed by ticketVerification.ts), not found (Zendesk
 * answered 404), or unavailable (no answer, a 5xx, a 429, or credentials Zendesk refused).
 */
export type ZendeskTicketRead = { kind: "found"; body: unknown } | { kind: "not_found" } | { kind: "unavailable"; error: string; retryAfterMs?: number };

export interface ZendeskClient {
  addInternalNote(ticketId: string, body: string): Promise<ZendeskCallResult>;
  findComment(ticketId: string, marker: string): Promise<ZendeskFindResult>;
  /** `GET /tickets/{id}.json?include=users,organizations`: the ticket with its requester and organization sideloaded. */
  getTicket(ticketId: string): Promise<ZendeskTicketRead>;
}

/** Newest first, a few pages: a note being checked was sent minutes ago. */
const FIND_PAGES = 3;

export function createZendeskClient(config: Config, options: { timeoutMs?: number } = {}): ZendeskClient | null {
  const base = config.zendeskApiUrl;
  // The local Zendesk page takes no credentials; a real Zendesk needs the token.
  const auth = config.ZENDESK_API_TOKEN && config.ZENDESK_API_EMAIL ? `Basic ${Buffer.from(`${config.ZENDESK_API_EMAIL}/token:${config.ZENDESK_API_TOKEN}`).toString("base64")}` : null;
  if (!base || (!auth && !config.demo)) return null;
  const timeoutMs = options.timeoutMs ?? config.PROVIDER_TIMEOUT_MS;
  return {
    async findComment(ticketId, marker) {
      // Zendesk's List Comments, newest first; `next_page` is the full URL of the next page.
      let url: string | null = `${base}/tickets/${encodeURIComponent(ticketId)}/comments.json?sort_order=desc`;
      try {
        for (let page = 0; url && page < FIND_PAGES; page++) {
          const response: Response = await fetch(url, { headers: auth ? { authorization: auth } : {}, signal: AbortSignal.timeout(timeoutMs) });
          if (!response.ok) return { outcome: "unknown", error: `Zendesk answered ${response.status} listing the ticket's comments` };
          const list = (await response.json()) as { comments?: { id?: unknown; body?: unknown; plain_body?: unknown }[]; next_page?: unknown };
          const hit = (list.comments ?? []).find((c) => [c.body, c.plain_body].some((b) => typeof b === "string" && b.includes(marker)));
          if (hit) return { outcome: "found", commentId: typeof hit.id === "number" ? hit.id : null };
          url = typeof list.next_page === "string" ? list.next_page : null;
        }
      } catch (err) {
        return { outcome: "unknown", error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
      }
      // Not among the newest pages: with more pages left it may still be older, so say so.
      return url ? { outcome: "unknown", error: "not among the newest comments; older pages were not read" } : { outcome: "absent" };
    },
    async getTicket(ticketId) {
      let response: Response;
      try {
        response = await fetch(`${base}/tickets/${encodeURIComponent(ticketId)}.json?include=users,organizations`, {
          headers: { accept: "application/json", ...(auth ? { authorization: auth } : {}) },
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        return { kind: "unavailable", error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
      }
      const text = await response.text().catch(() => "");
      if (response.status === 404) return { kind: "not_found" };
      if (!response.ok) {
        const retryAfter = Number(response.headers.get("retry-after"));
        return { kind: "unavailable", error: `Zendesk answered ${response.status}: ${text.slice(0, 200)}`, ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) };
      }
      try {
        return { kind: "found", body: JSON.parse(text) as unknown };
      } catch {
        return { kind: "unavailable", error: "Zendesk answered with a body that is not JSON" };
      }
    },
    async addInternalNote(ticketId, body) {
      let response: Response;
      try {
        response = await fetch(`${base}/tickets/${encodeURIComponent(ticketId)}.json`, {
          method: "PUT",
          headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) },
          body: JSON.stringify({ ticket: { comment: { body, public: false } } }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        // A refused connection never reached Zendesk; a timeout may have.
        const code = (err as { cause?: { code?: string } }).cause?.code;
        return code === "ECONNREFUSED" || code === "ENOTFOUND" ? { outcome: "failed", error } : { outcome: "unknown", error };
      }
      const text = await response.text().catch(() => "");
      if (response.ok) {
        let commentId: number | null = null;
        try {
          const events = (JSON.parse(text) as { audit?: { events?: { id?: unknown }[] } }).audit?.events;
          commentId = typeof events?.[0]?.id === "number" ? events[0].id : null;
        } catch {
          commentId = null;
        }
        return { outcome: "succeeded", commentId };
      }
      const retryAfter = Number(response.headers.get("retry-after"));
      const error = `Zendesk answered ${response.status}: ${text.slice(0, 200)}`;
      if (response.status >= 500) return { outcome: "unknown", error };
      return { outcome: "failed", error, ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) };
    },
  };
}
