import type { ErrorRequestHandler, Request, RequestHandler } from "express";
import { z } from "zod";
import { fieldReasonCode, type FieldError, type ProblemDetails } from "../../../shared/problem.js";
import { databaseFault } from "../db/databaseFaults.js";

/** Seconds a client should wait before retrying after a database fault (outages are usually short). */
const DATABASE_RETRY_AFTER_S = 2;

/**
 * The one error type routes and commands throw; the one middleware below turns it (and anything
 * else) into RFC 9457 problem+json.
 */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    readonly extra: { errors?: FieldError[] } & Record<string, unknown> = {},
    /** Sent as Retry-After: when a temporary fault (503) is worth retrying. */
    readonly retryAfterSeconds?: number,
  ) {
    super(detail ?? title);
    this.name = "Problem";
  }

  static unavailable(code: string, detail: string, retryAfterSeconds?: number): Problem {
    return new Problem(503, code, "Service unavailable", detail, {}, retryAfterSeconds);
  }

  static badRequest(detail: string, errors?: FieldError[]): Problem {
    return new Problem(400, "invalid_request", "Invalid request", detail, errors ? { errors } : {});
  }
  static unauthorized(code: string, detail = "Authentication required"): Problem {
    return new Problem(401, code, "Unauthorized", detail);
  }
  static forbidden(code: string, detail: string, extra: Record<string, unknown> = {}): Problem {
    return new Problem(403, code, "Forbidden", detail, extra);
  }
  static notFound(detail: string, extra: Record<string, unknown> = {}): Problem {
    return new Problem(404, "not_found", "Not found", detail, extra);
  }
  static conflict(code: string, detail: string, extra: Record<string, unknown> = {}): Problem {
    return new Problem(409, code, "Conflict", detail, extra);
  }
}

/** Zod issues → one `{field, reason, code, params}` per bad field, with the location prefix (body, query…); `input` is what was parsed. */
export function fieldErrors(error: z.ZodError, location?: string, input?: unknown): FieldError[] {
  return error.issues.map((issue) => ({
    field: [location, ...issue.path.map(String)].filter(Boolean).join(".") || location || "(root)",
    reason: issue.message,
    ...fieldReasonCode(issue, valueAt(input, issue.path) === undefined),
  }));
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) value = value !== null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return value;
}

export function problemType(code: string): string {
  return `https://steward.dev/problems/${code.replace(/_/g, "-")}`;
}

export function sendProblem(res: Parameters<RequestHandler>[1], problem: Problem, requestId?: string): void {
  const body: ProblemDetails = {
    type: problemType(problem.code),
    title: problem.title,
    status: problem.status,
    code: problem.code,
    ...(problem.detail ? { detail: problem.detail } : {}),
    ...(requestId ? { requestId } : {}),
    ...problem.extra,
  };
  if (problem.retryAfterSeconds !== undefined) res.setHeader("Retry-After", String(problem.retryAfterSeconds));
  res.status(problem.status).type("application/problem+json").send(JSON.stringify(body));
}

/** Errors that other layers raise map here, once. */
export function toProblem(err: unknown): Problem {
  if (err instanceof Problem) return err;
  if (err instanceof z.ZodError) return Problem.badRequest("The request has invalid fields", fieldErrors(err));
  const e = err as { type?: string; status?: number; statusCode?: number; expose?: boolean; message?: string; toProblem?: () => Problem };
  if (typeof e?.toProblem === "function") return e.toProblem();
  const fault = databaseFault(err);
  if (fault === "unavailable") return Problem.unavailable("database_unavailable", "The database cannot be reached right now; retry shortly", DATABASE_RETRY_AFTER_S);
  if (fault === "timeout") return Problem.unavailable("database_timeout", "The database did not answer in time (a statement, lock or connection limit was reached)", DATABASE_RETRY_AFTER_S);
  // body-parser errors (malformed JSON, too large) carry a status and are safe to expose.
  if (e?.type === "entity.parse.failed") return Problem.badRequest("The body is not valid JSON", [{ field: "body", reason: "malformed JSON" }]);
  if (e?.type === "entity.too.large") return new Problem(413, "payload_too_large", "Payload too large", "The request body is too large");
  // The router decodes path segments before any handler sees them: a malformed %-escape (or UTF-8 that is
  // no text, e.g. an encoded lone surrogate) is the caller's fault, not ours.
  if (err instanceof URIError) return Problem.badRequest("A path segment is not valid percent-encoded UTF-8", [{ field: "params", reason: "not valid percent-encoded UTF-8" }]);
  if (e?.expose && (e.status ?? e.statusCode)) {
    const status = e.status ?? e.statusCode ?? 400;
    return new Problem(status, "invalid_request", "Invalid request", e.message);
  }
  return new Problem(500, "internal_error", "Internal error", "Something went wrong; the request id identifies it in the logs");
}

/** The pages Zendesk opens in its frames (a signed form POST, or a plain visit). */
const PAGE_PATHS = new Set(["/app", "/console"]);

/**
 * A browser opening one of Steward's pages gets a readable page for any refusal (a rejected token, no
 * panel access, too many sign-ins from its address, a database fault): problem+json there leaves the
 * Zendesk frame blank. API clients asking those paths for JSON still get problem+json.
 */
function wantsPage(req: Request): boolean {
  return PAGE_PATHS.has(req.path) && req.accepts(["application/problem+json", "application/json", "html"]) === "html";
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

function sendProblemPage(res: Parameters<RequestHandler>[1], problem: Problem, requestId?: string): void {
  const title = problem.status === 401 ? "Not signed in" : problem.title;
  const retry = problem.retryAfterSeconds !== undefined ? ` Try again in ${problem.retryAfterSeconds} s.` : "";
  if (problem.retryAfterSeconds !== undefined) res.setHeader("Retry-After", String(problem.retryAfterSeconds));
  res
    .status(problem.status)
    .type("html")
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Steward: ${escapeHtml(title)}</title></head>` +
        `<body style="font-family:system-ui,sans-serif;padding:12px" data-problem="${escapeHtml(problem.code)}"><h1 style="font-size:16px">${escapeHtml(title)}</h1>` +
        `<p>${escapeHtml(problem.detail ?? problem.title)}${escapeHtml(retry)}</p>${requestId ? `<p style="color:#68737d;font-size:12px">Request ${escapeHtml(requestId)}</p>` : ""}</body></html>`,
    );
}

export const problemMiddleware: ErrorRequestHandler = (err, req, res, next) => {
  if (res.headersSent) return next(err);
  const problem = toProblem(err);
  if (problem.status >= 500) req.log?.error({ err }, "request failed");
  else req.log?.info({ code: problem.code, status: problem.status }, problem.detail ?? problem.title);
  if (wantsPage(req)) sendProblemPage(res, problem, String(req.id ?? ""));
  else sendProblem(res, problem, String(req.id ?? ""));
};

export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(res, Problem.notFound(`No route for ${req.method} ${req.path}`), String(req.id ?? ""));
};
