import type { ProblemDetails } from "../../../shared/problem";
import { requestTimeoutMs } from "./pageTimings";
import type { Session, SessionGrant } from "./session";

/** A Steward API error: the problem+json body, shown in place by the view that made the call. */
export class StewardApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: ProblemDetails,
  ) {
    super(problem.detail ?? problem.title);
    this.name = "StewardApiError";
  }
}

export type Query = Record<string, string | number | null | undefined>;

export interface StewardApi {
  get<T>(path: string, query?: Query): Promise<T>;
  post<T>(path: string, body: unknown, headers?: Record<string, string>): Promise<T>;
}

/** The problem+json body of a refused response (title and status alone when there is none). */
export async function readProblem(response: Response): Promise<ProblemDetails> {
  const fallback: ProblemDetails = { type: "about:blank", title: response.statusText || "Request failed", status: response.status };
  try {
    const body = (await response.json()) as Partial<ProblemDetails>;
    return typeof body === "object" && body && typeof body.title === "string" ? { ...fallback, ...body } : fallback;
  } catch {
    return fallback;
  }
}

/** A request Steward did not answer in time: like a dropped connection, its outcome is not known. */
export const TIMEOUT_CODE = "timeout";

async function send<T>(url: string, init: RequestInit): Promise<T> {
  // A hung server must not leave a silent greyed form: past the timeout the caller gets an error it can retry.
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), requestTimeoutMs());
  try {
    let response: Response;
    try {
      response = await fetch(url, { ...init, signal: timeout.signal });
    } catch (err) {
      if (timeout.signal.aborted) throw new StewardApiError(0, { type: "about:blank", title: "Timed out", status: 0, code: TIMEOUT_CODE, detail: `no answer within ${requestTimeoutMs() / 1000} s` });
      throw new StewardApiError(0, { type: "about:blank", title: "Network error", status: 0, code: "network_error", detail: (err as Error).message });
    }
    if (!response.ok) throw new StewardApiError(response.status, await readProblem(response));
    // 202 problem+json: accepted, but its outcome is not known yet (outcome_unknown); not a result.
    if (response.status === 202 && (response.headers.get("content-type") ?? "").includes("problem+json")) throw new StewardApiError(202, await readProblem(response));
    return (response.status === 204 ? undefined : await response.json()) as T;
  } catch (err) {
    if (err instanceof StewardApiError) throw err;
    throw new StewardApiError(0, { type: "about:blank", title: timeout.signal.aborted ? "Timed out" : "Network error", status: 0, code: timeout.signal.aborted ? TIMEOUT_CODE : "network_error", detail: (err as Error).message });
  } finally {
    clearTimeout(timer);
  }
}

function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Same-origin calls to Steward's API with the session; reads name the ticket they are made for. */
export function createStewardApi(session: Session, ticketId: string | null): StewardApi {
  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
    Accept: "application/json",
    Authorization: `Bearer ${session.token}`,
    ...(ticketId ? { "X-Ticket-Id": ticketId } : {}),
    ...extra,
  });
  return {
    get: (path, query) => send(withQuery(path, query), { headers: headers() }),
    post: (path, body, extra) => send(path, { method: "POST", headers: headers({ "Content-Type": "application/json", ...extra }), body: JSON.stringify(body) }),
  };
}

export function renewSession(token: string): Promise<SessionGrant> {
  return send<SessionGrant>("/api/session/renew", { method: "POST", headers: { Accept: "application/json", Authorization: `Bearer ${token}` } });
}
