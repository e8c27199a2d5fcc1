import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Stripe's request rules for the endpoints Steward calls (server/test/contracts/stripe-rules.json),
 * and the checker the Stripe fake runs on every request before doing anything: unknown parameters,
 * missing required ones, wrong types, enum values, lengths, the basil-era invoice preview shapes,
 * removed endpoints and idempotency-key lengths are refused with Stripe's error shapes.
 */
export type ParamRule =
  | { type: "string"; maxLength?: number; pattern?: string; emptyable?: boolean }
  | { type: "integer"; minimum?: number; maximum?: number }
  | { type: "boolean" }
  | { type: "enum"; values: string[] }
  | { type: "timestamp"; future?: boolean; maxDaysAhead?: number }
  | { type: "anyOf"; of: ParamRule[] }
  | { type: "array"; items: ParamRule; maxItems?: number }
  | { type: "object"; params?: Record<string, ParamRule>; unchecked?: boolean }
  | { type: "metadata" }
  | { type: "range" }
  | { type: "any" };

export interface EndpointRule {
  source: string;
  required?: string[];
  requireOneOf?: { params: string[]; since: string; source: string; message: string };
  params: Record<string, ParamRule>;
}

interface ErrorTemplate {
  status: number;
  code?: string;
  type?: string;
  message: string;
}

export interface StripeRules {
  apiVersion: string;
  errors: Record<"unknownParameter" | "missingParameter" | "invalidInteger" | "invalidBoolean" | "invalidEnum" | "invalidTimestamp" | "tooLong" | "outOfRange" | "removedEndpoint" | "emptyString" | "timestampTooFar", ErrorTemplate>;
  idempotency: { maxKeyLength: number; keyTooLong: ErrorTemplate; reusedWithOtherParameters: ErrorTemplate; keyInUse: ErrorTemplate; honouredOn: string[]; retentionHours: number };
  removed: Record<string, { since: string; source: string }>;
  endpoints: Record<string, EndpointRule>;
}

/** A refusal, as Stripe words it: the HTTP status and the body's `error` object. */
export interface StripeRefusal {
  status: number;
  error: { type: string; message: string; code?: string; param?: string };
}

export type Form = Record<string, unknown>;

export const STRIPE_RULES_PATH = resolve(dirname(fileURLToPath(import.meta.url)), "../contracts/stripe-rules.json");

let cached: StripeRules | undefined;
export function stripeRules(): StripeRules {
  cached ??= JSON.parse(readFileSync(STRIPE_RULES_PATH, "utf8")) as StripeRules;
  return cached;
}

export const fill = (template: string, values: Record<string, string | number>) => template.replace(/\{(\w+)\}/g, (_, k: string) => String(values[k] ?? `{${k}}`));

function refusal(t: ErrorTemplate, values: Record<string, string | number>, param?: string): StripeRefusal {
  return { status: t.status, error: { type: t.type ?? "invalid_request_error", message: fill(t.message, values), ...(t.code ? { code: t.code } : {}), ...(param ? { param } : {}) } };
}

const templateRegex = (template: string) => new RegExp(`^${template.replace(/\{\w+\}/g, "[^/]+")}$`);

/** The rule for a request, by method and concrete path ("GET /v1/customers/cus_1" → "GET /v1/customers/{customer}"). */
export function endpointFor(method: string, path: string, rules: StripeRules = stripeRules()): { name: string; rule: EndpointRule } | undefined {
  for (const [name, rule] of Object.entries(rules.endpoints)) {
    const [m, template] = name.split(" ") as [string, string];
    if (m === method && templateRegex(template).test(path)) return { name, rule };
  }
  return undefined;
}

const isForm = (v: unknown): v is Form => typeof v === "object" && v !== null && !Array.isArray(v);

/** Every way one parameter value breaks its rule; `at` is the form-encoded name (items[0][price]). */
function checkValue(rules: StripeRules, rule: ParamRule, value: unknown, at: string, nowUnix: number): StripeRefusal | null {
  const e = rules.errors;
  switch (rule.type) {
    case "any":
      return null;
    case "string":
      if (typeof value !== "string") return refusal(e.invalidEnum, { param: at, values: "a string" }, at);
      // Stripe reads "" as "unset", which only the parameters its API marks emptyable allow.
      if (value === "" && !rule.emptyable) return refusal(e.emptyString, { param: at }, at);
      if (rule.maxLength !== undefined && [...value].length > rule.maxLength) return refusal(e.tooLong, { value, max: rule.maxLength }, at);
      if (rule.pattern && !new RegExp(rule.pattern).test(value)) return refusal(e.invalidEnum, { param: at, values: `a value matching ${rule.pattern}` }, at);
      return null;
    case "integer": {
      if (typeof value !== "string" || !/^-?\d+$/.test(value)) return refusal(e.invalidInteger, { value: String(value) }, at);
      const n = Number(value);
      if ((rule.minimum !== undefined && n < rule.minimum) || (rule.maximum !== undefined && n > rule.maximum)) return refusal(e.outOfRange, { param: at, min: rule.minimum ?? "-∞", max: rule.maximum ?? "∞" }, at);
      return null;
    }
    case "boolean":
      return value === "true" || value === "false" ? null : refusal(e.invalidBoolean, { value: String(value) }, at);
    case "enum":
      return typeof value === "string" && rule.values.includes(value) ? null : refusal(e.invalidEnum, { param: at, values: rule.values.map((v) => (v === "" ? '"" (to unset)' : v)).join(", ") }, at);
    case "timestamp":
      if (typeof value !== "string" || !/^\d+$/.test(value)) return refusal(e.invalidInteger, { value: String(value) }, at);
      if (rule.future && Number(value) <= nowUnix) return refusal(e.invalidTimestamp, {}, at);
      if (rule.maxDaysAhead !== undefined && Number(value) > nowUnix + rule.maxDaysAhead * 86_400) return refusal(e.timestampTooFar, { days: rule.maxDaysAhead, years: rule.maxDaysAhead / 365 }, at);
      return null;
    case "anyOf": {
      const results = rule.of.map((r) => checkValue(rules, r, value, at, nowUnix));
      if (results.some((r) => r === null)) return null;
      // A number is answered by the timestamp rule it breaks (past, too far); anything else by the last rule.
      const timestamp = rule.of.findIndex((r) => r.type === "timestamp");
      return (timestamp >= 0 && typeof value === "string" && /^\d+$/.test(value) ? results[timestamp] : results[results.length - 1]) ?? null;
    }
    case "array": {
      if (!isForm(value) && !Array.isArray(value)) return refusal(e.invalidEnum, { param: at, values: "an array" }, at);
      const entries = Object.entries(value);
      if (entries.some(([k]) => !/^\d*$/.test(k))) return refusal(e.invalidEnum, { param: at, values: "an array" }, at);
      if (rule.maxItems !== undefined && entries.length > rule.maxItems) return refusal(e.outOfRange, { param: `${at} (items)`, min: 0, max: rule.maxItems }, at);
      for (const [k, v] of entries) {
        const bad = checkValue(rules, rule.items, v, `${at}[${k}]`, nowUnix);
        if (bad) return bad;
      }
      return null;
    }
    case "object":
      if (!isForm(value)) return refusal(e.invalidEnum, { param: at, values: "a hash" }, at);
      return rule.unchecked ? null : checkParams(rules, rule.params ?? {}, value, at, nowUnix);
    case "metadata":
      if (value === "") return null;
      if (!isForm(value) || Object.values(value).some((v) => typeof v !== "string")) return refusal(e.invalidEnum, { param: at, values: "a hash of strings" }, at);
      return null;
    case "range":
      if (typeof value === "string") return /^\d+$/.test(value) ? null : refusal(e.invalidInteger, { value }, at);
      if (!isForm(value)) return refusal(e.invalidEnum, { param: at, values: "an integer or a range" }, at);
      return checkParams(rules, { gt: { type: "integer" }, gte: { type: "integer" }, lt: { type: "integer" }, lte: { type: "integer" } }, value, at, nowUnix);
  }
}

function checkParams(rules: StripeRules, params: Record<string, ParamRule>, form: Form, prefix: string, nowUnix: number): StripeRefusal | null {
  for (const [name, value] of Object.entries(form)) {
    const at = prefix ? `${prefix}[${name}]` : name;
    const rule = params[name];
    if (!rule) return refusal(rules.errors.unknownParameter, { param: at }, at);
    const bad = checkValue(rules, rule, value, at, nowUnix);
    if (bad) return bad;
  }
  return null;
}

/** `subscription_details.items` is present in the form. */
function has(form: Form, dotted: string): boolean {
  let node: unknown = form;
  for (const part of dotted.split(".")) {
    if (!isForm(node) || !(part in node)) return false;
    node = node[part];
  }
  return true;
}

/** What Stripe would refuse about this request before running it; null when it passes every rule. */
export function checkStripeRequest(req: { method: string; path: string; form: Form; idempotencyKey?: string }, nowUnix: number, rules: StripeRules = stripeRules()): StripeRefusal | null {
  if (req.idempotencyKey !== undefined && (req.idempotencyKey.length === 0 || req.idempotencyKey.length > rules.idempotency.maxKeyLength)) {
    return refusal(rules.idempotency.keyTooLong, { length: req.idempotencyKey.length });
  }
  if (rules.removed[`${req.method} ${req.path}`]) return refusal(rules.errors.removedEndpoint, { method: req.method, path: req.path });
  const endpoint = endpointFor(req.method, req.path, rules);
  if (!endpoint) return refusal(rules.errors.removedEndpoint, { method: req.method, path: req.path });
  const bad = checkParams(rules, endpoint.rule.params, req.form, "", nowUnix);
  if (bad) return bad;
  for (const name of endpoint.rule.required ?? []) if (!(name in req.form)) return refusal(rules.errors.missingParameter, { param: name }, name);
  const oneOf = endpoint.rule.requireOneOf;
  if (oneOf && !oneOf.params.some((p) => has(req.form, p))) return { status: 400, error: { type: "invalid_request_error", code: "parameter_missing", message: oneOf.message } };
  return null;
}
