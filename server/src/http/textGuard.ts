import type { Request, RequestHandler } from "express";
import type { FieldError } from "../../../shared/problem.js";
import { canonicalText, textFault, type TextFault } from "../audit/canonicalText.js";
import { Problem } from "./problem.js";

/**
 * Refuses, at the edge and before anything is read, written or audited, any request text that cannot
 * be stored as sent: NUL (PostgreSQL refuses it) and unpaired UTF-16 surrogates (stored as U+FFFD, so
 * what is hashed would not be what is stored). Query string, body (keys and values, at any depth) and
 * route parameters; reads included. 400 problem+json naming each field.
 */

const MAX_REPORTED = 20;

const REASONS: Record<TextFault | "encoding", string> = {
  nul: "contains a NUL character (U+0000), which cannot be stored",
  lone_surrogate: "contains an unpaired UTF-16 surrogate, which is not valid Unicode text",
  encoding: "is not valid percent-encoded UTF-8",
};

function fieldName(path: readonly string[]): string {
  // Named in canonical form, so the name itself is safe to send back.
  return path.map(canonicalText).join(".");
}

/** Every bad string (and object key) under `value`, as `{field, reason}`. */
export function textFaults(value: unknown, path: readonly string[], out: FieldError[] = []): FieldError[] {
  if (out.length >= MAX_REPORTED) return out;
  if (typeof value === "string") {
    const fault = textFault(value);
    if (fault) out.push({ field: fieldName(path), reason: REASONS[fault] });
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => textFaults(item, [...path, String(i)], out));
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      const fault = textFault(key);
      if (fault) out.push({ field: fieldName([...path, key]), reason: `its name ${REASONS[fault]}` });
      textFaults(item, [...path, key], out);
    }
  }
  return out.slice(0, MAX_REPORTED);
}

/** Query parameters whose percent-encoding does not decode as UTF-8 (Node's parser would silently make them U+FFFD). */
function queryEncodingFaults(url: string): FieldError[] {
  const at = url.indexOf("?");
  if (at < 0) return [];
  const faults: FieldError[] = [];
  for (const pair of url.slice(at + 1).split("&")) {
    const [rawKey = "", rawValue = ""] = pair.split(/=(.*)/s);
    let key = rawKey;
    try {
      key = decodeURIComponent(rawKey.replace(/\+/g, " "));
      decodeURIComponent(rawValue.replace(/\+/g, " "));
    } catch {
      faults.push({ field: fieldName(["query", key]), reason: REASONS.encoding });
    }
  }
  return faults;
}

function refuse(errors: FieldError[]): Problem {
  return Problem.badRequest("The request carries text that cannot be stored as sent", errors.slice(0, MAX_REPORTED));
}

/** App-wide, right after body parsing: query string and body. */
export const refuseUnstorableText: RequestHandler = (req: Request, _res, next) => {
  const errors = [...queryEncodingFaults(req.originalUrl), ...textFaults(req.query, ["query"]), ...textFaults(req.body, ["body"])];
  next(errors.length ? refuse(errors) : undefined);
};

/** Per route, before authentication and permission: the path parameters (known only once a route matched). */
export const refuseUnstorableParams: RequestHandler = (req, _res, next) => {
  const errors = textFaults(req.params, ["params"]);
  next(errors.length ? refuse(errors) : undefined);
};
