import type { NextFunction, Request, RequestHandler, Response, Router } from "express";
import type { z } from "zod";
import { isStaffChanged } from "../db/databaseFaults.js";
import { Problem, fieldErrors } from "./problem.js";
import { refuseUnstorableParams } from "./textGuard.js";

/**
 * A route is declared once with its zod schemas: the same declaration validates requests and
 * feeds the OpenAPI document. Handlers return the response body (or write `res` themselves).
 */
export interface RouteSpec<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType> {
  method: "get" | "post" | "put" | "patch" | "delete";
  /** Express path, e.g. `/api/accounts/:accountId`. */
  path: string;
  summary: string;
  tags?: string[];
  body?: B;
  query?: Q;
  params?: P;
  /** Response schemas by status; 4xx/5xx are problem+json and listed by code. */
  responses?: Record<number, z.ZodType | string>;
  /** Extra headers the route reads (e.g. Idempotency-Key); one with a schema is refused (400) when sent and not valid. */
  headers?: { name: string; required?: boolean; description: string; schema?: z.ZodType }[];
  /** Non-JSON response types (CSV, NDJSON, HTML). */
  produces?: string[];
  /** Middleware to run before validation (authentication, permission). */
  before?: RequestHandler[];
  /** false for routes without a session (health, Zendesk page). */
  authenticated?: boolean;
}

export interface RouteInput<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  req: Request;
  res: Response;
}

const registry: RouteSpec<z.ZodType, z.ZodType, z.ZodType>[] = [];

export function registeredRoutes(): readonly RouteSpec<z.ZodType, z.ZodType, z.ZodType>[] {
  return registry;
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, location: string): z.infer<T> {
  if (!schema) return undefined as z.infer<T>;
  const result = schema.safeParse(value ?? {});
  if (!result.success) throw Problem.badRequest(`The request has invalid ${location} fields`, fieldErrors(result.error, location, value ?? {}));
  return result.data;
}

/** A declared header sent with a value its schema refuses: 400 naming it, rather than a request recorded without it. */
function parseHeaders(headers: RouteSpec<z.ZodType, z.ZodType, z.ZodType>["headers"], req: Request): void {
  const errors = (headers ?? []).flatMap((h) => {
    const value = req.get(h.name);
    if (!h.schema || value === undefined) return [];
    const result = h.schema.safeParse(value);
    return result.success ? [] : [{ field: `headers.${h.name}`, reason: result.error.issues[0]?.message ?? "invalid" }];
  });
  if (errors.length) throw Problem.badRequest("The request has invalid headers", errors);
}

export function route<B extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, P extends z.ZodType = z.ZodUndefined>(
  router: Router,
  spec: RouteSpec<B, Q, P>,
  handler: (input: RouteInput<z.infer<B>, z.infer<Q>, z.infer<P>>) => Promise<unknown> | unknown,
): void {
  if (!registry.some((r) => r.method === spec.method && r.path === spec.path)) {
    registry.push(spec as unknown as RouteSpec<z.ZodType, z.ZodType, z.ZodType>);
  }
  const run = async (req: Request, res: Response, next: NextFunction) => {
    try {
      const params = parse(spec.params, req.params, "params");
      const query = parse(spec.query, req.query, "query");
      const body = parse(spec.body, req.body, "body");
      parseHeaders(spec.headers, req);
      const input = { body, query, params, req, res };
      const result = await Promise.resolve(handler(input)).catch(async (err: unknown) => {
        // Authorised from a cached staff row that has since changed (auth/staffCache.ts): nothing was
        // answered or committed; authorise again from a fresh read and run once more.
        if (!isStaffChanged(err) || !req.reauthorize) throw err;
        const reauthorize = req.reauthorize;
        req.reauthorize = undefined;
        await reauthorize();
        return handler(input);
      });
      if (!res.headersSent && result !== undefined) res.json(result);
      else if (!res.headersSent) res.status(204).end();
    } catch (err) {
      next(err);
    }
  };
  // Path parameters are checked first, so a refused request is never authorised, denied or audited.
  router[spec.method](spec.path, refuseUnstorableParams, ...(spec.before ?? []), run);
}
