import { createServer, type Server } from "node:http";
import fc from "fast-check";
import { sql } from "kysely";
import type { PanelRole } from "../../../shared/roles.js";
import { panelRoles } from "../../../shared/roles.js";
import { createApp } from "../../src/app.js";
import { answerClientErrors } from "../../src/http/clientError.js";
import { issueSessionToken } from "../../src/auth/sessionToken.js";
import type { DatabaseKind } from "../../src/db/database.js";
import type { AppDeps } from "../../src/deps.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { createTestDeps } from "./databases.js";

/**
 * The API fuzzer (issue 12, item 9), shared by the test (a bounded run on each database) and
 * `npm run fuzz` (a long one). It reads /api/openapi.json from a live server, generates requests for
 * every operation from the schemas — valid-shaped, with hostile values mixed in at any depth — sends
 * them as each role, and checks: no 5xx; every 4xx is problem+json, a 400 names the fields at fault;
 * and a 4xx changes nothing in the database but, at most, `denied` audit entries.
 */

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
};

interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
  schema: JsonSchema;
}

export interface Operation {
  method: string;
  path: string;
  parameters: Parameter[];
  body?: JsonSchema;
}

export type Caller = PanelRole | "anonymous" | "forged";

export interface FuzzRequest {
  op: Operation;
  caller: Caller;
  path: string;
  query: string;
  headers: Record<string, string>;
  /** Raw text sent as the body (JSON, or deliberately not). */
  body?: string;
}

export interface FuzzFailure {
  rule: "server_error" | "not_problem_json" | "field_not_named" | "changed_on_4xx";
  request: { method: string; url: string; caller: Caller; body?: string };
  status: number;
  detail: string;
}

export interface FuzzTarget {
  deps: AppDeps;
  baseUrl: string;
  operations: Operation[];
  tokens: Record<Caller, string | undefined>;
  knownIds: string[];
  close(): Promise<void>;
}

const HUGE = "x".repeat(70_000);
const DEEP: unknown = Array.from({ length: 300 }).reduce<unknown>((inner) => ({ a: inner }), 1);

/** Values no schema asks for: control characters, unpaired surrogates, huge and deep values, wrong types. */
export function hostileValue(): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.string().map((s) => `${s}\u0000${s}`),
    fc.constantFrom("\uD800", "a\uDC00b", "\uDBFF\uDBFF", "\u202Eevil", "\uFEFF", "Ω≈ç√∫˜µ≤≥÷", "👩‍👩‍👧‍👦", "e\u0301", "\u0000"),
    fc.string({ unit: "grapheme", maxLength: 40 }),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.constantFrom(HUGE, "y".repeat(5_000), "", " ", "null", "0", "-1", "1e309", "NaN", "../../etc/passwd", "' or 1=1 --", "<script>alert(1)</script>", "%00", "__proto__", "constructor"),
    fc.integer(),
    fc.double(),
    fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -0, 1e308, -1),
    fc.boolean(),
    fc.constant(null),
    fc.constant(DEEP),
    fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 3 }),
    fc.object({ maxDepth: 2 }),
  );
}

function bounded(schema: JsonSchema): { min: number; max: number } {
  const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : -1_000_000);
  const max = Math.min(schema.maximum ?? 1_000_000, Number.MAX_SAFE_INTEGER);
  return { min: Math.max(min, Number.MIN_SAFE_INTEGER), max };
}

function stringOf(schema: JsonSchema, knownIds: string[]): fc.Arbitrary<string> {
  if (schema.pattern) {
    try {
      return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length <= (schema.maxLength ?? 200));
    } catch {
      // A pattern JS cannot compile: fall through to plain strings.
    }
  }
  if (schema.format === "date-time") return fc.date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true }).map((d) => d.toISOString());
  if (schema.format === "email") return fc.emailAddress();
  if (schema.format === "uuid") return fc.uuid();
  const min = schema.minLength ?? 0;
  const max = Math.max(min, Math.min(schema.maxLength ?? 40, 60));
  return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...knownIds) }, { weight: 2, arbitrary: fc.string({ minLength: min, maxLength: max }) });
}

/** An arbitrary for values of `schema`, with a hostile value in place of a valid one now and then, at any depth. */
export function fromSchema(schema: JsonSchema, knownIds: string[], depth = 0): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 12, arbitrary: validOf(schema, knownIds, depth) }, { weight: 1, arbitrary: hostileValue() });
}

function validOf(schema: JsonSchema, knownIds: string[], depth: number): fc.Arbitrary<unknown> {
  if (depth > 6) return fc.constant(null);
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives?.length) return fc.oneof(...alternatives.map((s) => validOf(s, knownIds, depth + 1)));
  if (schema.allOf?.length) return validOf(schema.allOf[0]!, knownIds, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "string":
      return stringOf(schema, knownIds);
    case "integer": {
      const { min, max } = bounded(schema);
      // Small numbers often are the right version or amount; the whole range finds the edges.
      return fc.oneof(fc.integer({ min: Math.max(min, 0), max: Math.max(Math.min(max, 5), Math.max(min, 0)) }), fc.integer({ min: Math.max(min, -2_147_483_648), max: Math.min(max, 2_147_483_647) }));
    }
    case "number": {
      const { min, max } = bounded(schema);
      return fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
    }
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(fromSchema(schema.items ?? {}, knownIds, depth + 1), { maxLength: 3 });
    case "object": {
      const props = schema.properties ?? {};
      const shape = Object.fromEntries(Object.entries(props).map(([k, s]) => [k, fromSchema(s, knownIds, depth + 1)]));
      return fc.record(shape, { requiredKeys: (schema.required ?? []).filter((k) => k in props) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Percent-encodes like encodeURIComponent, but sends an unpaired surrogate as the invalid UTF-8 it would be. */
function encode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return Array.from(value, (ch) => {
      try {
        return encodeURIComponent(ch);
      } catch {
        return "%ED%A0%80";
      }
    }).join("");
  }
}

function asText(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Header values must be bytes: anything else is sent as its JSON, Latin-1 only. */
function headerText(value: unknown): string {
  return asText(value)
    .replace(/[^\x20-\x7e]/g, "?")
    .slice(0, 8_000);
}

/** Adds prototype-pollution keys to an object's JSON text (JSON.stringify would never write them). */
function polluted(json: string): string {
  return json.startsWith("{") && json.length > 1 ? `{"__proto__":{"isAdmin":true,"panelRole":"admin"},"constructor":{"prototype":{"polluted":1}},${json.slice(1)}`.replace(/,}$/, "}") : json;
}

export function requestArbitrary(target: Pick<FuzzTarget, "knownIds">, op: Operation): fc.Arbitrary<FuzzRequest> {
  const { knownIds } = target;
  const pathParams = op.parameters.filter((p) => p.in === "path");
  const queryParams = op.parameters.filter((p) => p.in === "query");
  const headerParams = op.parameters.filter((p) => p.in === "header");
  const callers: Caller[] = [...panelRoles, "anonymous", "forged"];
  const paramValue = (p: Parameter) => fromSchema(p.schema, knownIds);
  const bodyArb: fc.Arbitrary<string | undefined> = op.body
    ? fc.oneof(
        { weight: 10, arbitrary: fromSchema(op.body, knownIds).map((v) => JSON.stringify(v) ?? "null") },
        { weight: 2, arbitrary: fromSchema(op.body, knownIds).map((v) => polluted(JSON.stringify(v) ?? "{}")) },
        { weight: 1, arbitrary: fc.constantFrom("{", "{\"a\":", "[1,2", "\u0000", "{\"input\":{\"x\":\"\\u0000\"}}", "{\"reason\":\"\\ud800\"}", "nul") },
        { weight: 1, arbitrary: fc.constant(`{"pad":"${HUGE}"}`) },
      )
    : fc.option(fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)), { nil: undefined });
  return fc
    .record({
      caller: fc.constantFrom(...callers),
      path: fc.tuple(...pathParams.map(paramValue)),
      query: fc.array(fc.tuple(fc.constantFrom(...queryParams.map((p) => p.name), "unexpected", "__proto__"), fc.oneof(...queryParams.map(paramValue), hostileValue())), { maxLength: Math.max(queryParams.length + 1, 2) }),
      required: fc.tuple(...queryParams.filter((p) => p.required).map((p) => paramValue(p).map((v) => [p.name, v] as const))),
      headers: fc.tuple(...headerParams.map((p) => fc.option(paramValue(p).map((v) => [p.name, headerText(v)] as const), { nil: undefined }))),
      body: bodyArb,
      longQuery: fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
      contentType: fc.constantFrom("application/json", "application/json", "application/json", "text/plain", "application/x-www-form-urlencoded"),
    })
    .map((r) => {
      let i = 0;
      const path = op.path.replace(/\{[^}]+\}/g, () => encode(asText(r.path[i++]).slice(0, 2_000)));
      const pairs = [...r.required, ...r.query];
      // Mostly below Node's 16 KiB request-line limit, so the routes see them; the odd one is over it (431).
      const query = pairs.map(([k, v]) => `${encode(k)}=${encode(asText(v).slice(0, r.longQuery ? 20_000 : 1_000))}`).join("&");
      const headers: Record<string, string> = {};
      for (const h of r.headers) if (h) headers[h[0]] = h[1];
      if (r.body !== undefined) headers["content-type"] = r.contentType;
      return { op, caller: r.caller, path, query, headers, ...(r.body !== undefined && op.method !== "get" ? { body: r.body } : {}) };
    });
}

/** Rows of every table (audit entries apart), as counts and an order-free hash of their text. */
async function snapshot(deps: AppDeps, tables: string[]): Promise<Map<string, string>> {
  const q = tables.map((t) => `select '${t}' as t, count(*)::text || ':' || coalesce(sum(hashtextextended(x::text, 0)::numeric), 0)::text as h from "${t}" x`).join(" union all ");
  const rows = await sql.raw<{ t: string; h: string }>(q).execute(deps.database.db);
  const audit = await deps.database.db
    .selectFrom("audit_log")
    .select((eb) => [eb.fn.countAll<string>().as("n")])
    // A refused request is recorded (denied), and so is an attempt the target refused (failed): only those may appear on a 4xx.
    .where("outcome", "not in", ["denied", "failed"])
    .executeTakeFirstOrThrow();
  const map = new Map(rows.rows.map((r) => [r.t, r.h]));
  map.set("audit_log (succeeded, pending or unknown entries)", String(audit.n));
  return map;
}

function differences(a: Map<string, string>, b: Map<string, string>): string[] {
  return [...a.keys()].filter((k) => a.get(k) !== b.get(k));
}

/** The seeded demo database of `kind` behind a live server on a loopback port. */
export async function startFuzzTarget(kind: DatabaseKind): Promise<FuzzTarget> {
  const deps = await createTestDeps(kind, { seed: true });
  const app = createApp(deps);
  // As startServer builds it, without the background loops (they would change the database between snapshots).
  const server: Server = createServer(app);
  answerClientErrors(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const doc = (await (await fetch(`${baseUrl}/api/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: JsonSchema }> } }>>;
  };
  const operations: Operation[] = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, spec]) => ({
      method,
      path,
      parameters: spec.parameters ?? [],
      ...(spec.requestBody ? { body: spec.requestBody.content["application/json"]?.schema ?? {} } : {}),
    })),
  );
  const tokens = { anonymous: undefined, forged: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdGZfZGVtb19hZG1pbiJ9.forged" } as Record<Caller, string | undefined>;
  for (const role of panelRoles) {
    const agent = DEMO_AGENTS.find((a) => a.role === role)!;
    tokens[role] = (await issueSessionToken(deps, { staffId: agent.id, zendeskUserId: agent.zendeskUserId })).token;
  }
  const db = deps.database.db;
  const ids = [
    ...(await db.selectFrom("users").select("id").limit(8).execute()).map((r) => r.id),
    ...(await db.selectFrom("accounts").select("id").limit(8).execute()).map((r) => r.id),
    ...DEMO_AGENTS.map((a) => a.id),
    ...DEMO_AGENTS.map((a) => a.zendeskUserId),
    "1001",
    "1006",
    "2001",
  ];
  return {
    deps,
    baseUrl,
    operations,
    tokens,
    knownIds: ids,
    close: async () => {
      await new Promise((r) => server.close(r));
      await deps.database.close();
    },
  };
}

/**
 * Sends `runsPerOperation` generated requests to every operation (fixed seed: a failure repeats), one
 * at a time so a 4xx's effect on the database is its own. Returns every rule broken.
 */
export async function fuzz(target: FuzzTarget, options: { runsPerOperation: number; seed: number; onProgress?: (done: number, total: number) => void }): Promise<{ requests: number; byStatus: Record<number, number>; failures: FuzzFailure[] }> {
  const { deps } = target;
  const tables = (await sql<{ tablename: string }>`select tablename from pg_tables where schemaname = 'public' order by 1`.execute(deps.database.db)).rows
    .map((r) => r.tablename)
    // Counters that every request moves (rate limits) and the audit log and its partitions (compared apart).
    .filter((t) => t !== "rate_limits" && !t.startsWith("audit_log"));
  const failures: FuzzFailure[] = [];
  const byStatus: Record<number, number> = {};
  let before = await snapshot(deps, tables);
  let requests = 0;
  const total = target.operations.length * options.runsPerOperation;
  for (const [index, op] of target.operations.entries()) {
    const samples = fc.sample(requestArbitrary(target, op), { numRuns: options.runsPerOperation, seed: options.seed + index });
    for (const r of samples) {
      const url = `${target.baseUrl}${r.path}${r.query ? `?${r.query}` : ""}`;
      const token = target.tokens[r.caller];
      const headers = { ...r.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) };
      const request = { method: r.op.method.toUpperCase(), url: url.slice(0, 500), caller: r.caller, ...(r.body !== undefined ? { body: r.body.slice(0, 500) } : {}) };
      requests++;
      let res: Response;
      let text: string;
      try {
        const send = () => fetch(url, { method: r.op.method.toUpperCase(), headers, ...(r.body !== undefined ? { body: r.body } : {}) });
        // A kept-alive connection the server closed after refusing a too-large body resets the next request: send it once more.
        res = await send().catch(send);
        text = await res.text();
      } catch (err) {
        // The server dropped the connection instead of answering: as bad as a 5xx.
        const cause = err instanceof Error ? `${err.message} ${String((err.cause as Error | undefined)?.message ?? "")}` : String(err);
        failures.push({ rule: "server_error", request, status: 0, detail: `no response: ${cause} (url ${url.length} chars, body ${r.body?.length ?? 0} chars)` });
        before = await snapshot(deps, tables);
        continue;
      }
      byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
      const fail = (rule: FuzzFailure["rule"], detail: string) => failures.push({ rule, request, status: res.status, detail: detail.slice(0, 800) });
      if (res.status >= 500) fail("server_error", text);
      if (res.status >= 400) {
        const type = res.headers.get("content-type") ?? "";
        let problem: { status?: number; code?: string; errors?: { field?: string }[] } | undefined;
        try {
          problem = JSON.parse(text) as typeof problem;
        } catch {
          problem = undefined;
        }
        if (!type.startsWith("application/problem+json") || problem?.status !== res.status) fail("not_problem_json", `${type}: ${text}`);
        else if (res.status === 400 && problem.code === "invalid_request") {
          const fields = (problem.errors ?? []).map((e) => e.field ?? "");
          if (!fields.length || fields.some((f) => !/^(body|query|params|headers?)(\.|\[|$)/.test(f))) fail("field_not_named", text);
        }
      }
      const after = await snapshot(deps, tables);
      if (res.status >= 400 && res.status < 500) {
        const changed = differences(before, after);
        if (changed.length) fail("changed_on_4xx", `changed: ${changed.join(", ")}; response: ${text}`);
      }
      before = after;
      options.onProgress?.(requests, total);
    }
  }
  return { requests, byStatus, failures };
}
