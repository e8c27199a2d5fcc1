import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { createAuth0Identity } from "../../src/providers/index.js";
import type { IdentityPort } from "../../src/providers/ports.js";
import { Auth0Fake, ROUTE_QUERY, ROUTE_SCOPES, STEWARD_AUTH0_SCOPES } from "../fakes/auth0Fake.js";
import type { RecordedRequest } from "../fakes/httpFake.js";
import { testConfig } from "../support/databases.js";
import { seedAuth0Users } from "./auth0Seed.js";
import { AUTH0_CONTRACT_PATH, loadContract, matchTemplate, validate, type OpenApiDocument, type Schema } from "./openApiContract.js";

/**
 * Holds the Auth0 fake (and so the adapter's view of Auth0) to Auth0's published Management API
 * contract: every request the adapter sends must be an operation the spec has, with declared query
 * parameters and a valid body, and every answer the fake gives must be a declared status whose body
 * validates against the spec's schema for it.
 */
const fake = new Auth0Fake();
let spec: OpenApiDocument;
let identity: IdentityPort;
let adapterCalls: RecordedRequest[] = [];

beforeAll(async () => {
  spec = loadContract(AUTH0_CONTRACT_PATH);
  await fake.start();
  seedAuth0Users(fake);
  identity = createAuth0Identity({ config: testConfig({ ...fake.env(), PROVIDER_TIMEOUT_MS: "5000" }), clock: new ManualClock() });

  // Everything the adapter can do, including the not-found paths.
  const ctx = { idempotencyKey: "op-contract" };
  const locked = { id: "usr_1", idpId: "auth0|locked", email: "lou.locked@acme.example" };
  const byEmail = { id: "usr_2", idpId: null, email: "eli.email@acme.example" };
  await identity.getIdentity(locked);
  await identity.getIdentity(byEmail);
  await identity.getIdentity({ id: "usr_3", idpId: "auth0|nobody", email: "x@acme.example" }).catch(() => undefined);
  await fake.idle();
  await identity.sendPasswordReset(locked, ctx);
  await identity.clearLockout(locked, ctx);
  await identity.resetMfa(locked, ctx);
  await identity.revokeSessions(locked, ctx);
  await identity.setBlocked(byEmail, true, ctx);
  await identity.setBlocked(byEmail, false, ctx);
  await fake.idle();
  // Taken now: later tests send their own raw requests to the same fake, and those must not count as the adapter's.
  adapterCalls = fake.requests.filter((r) => r.path.startsWith("/api/v2/"));
});
afterAll(() => fake.close());

const managementCalls = () => adapterCalls;

describe("Auth0 fake and adapter against the Management API contract", () => {
  it("finds the contract file inside the repository (server/test/contracts), and fails loudly without it", () => {
    expect(AUTH0_CONTRACT_PATH).toMatch(/\/server\/test\/contracts\/auth0-management-api\.openapi\.json$/);
    expect(Object.keys(spec.paths).length).toBeGreaterThan(100);
    expect(() => loadContract("/nonexistent/auth0-management-api.openapi.json")).toThrow(/Contract file missing: \/nonexistent\/auth0-management-api\.openapi\.json/);
  });

  it("every request the adapter sent is an operation in the spec, with declared query parameters", () => {
    const problems: string[] = [];
    for (const r of managementCalls()) {
      const path = r.path.slice("/api/v2".length);
      const hit = matchTemplate(spec, r.method, path);
      if (!hit) {
        problems.push(`${r.method} ${path}: no such operation in the spec`);
        continue;
      }
      const declared = new Set((hit.operation.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name));
      for (const name of r.query.keys()) if (!declared.has(name)) problems.push(`${r.method} ${hit.template}: query parameter "${name}" is not declared`);
      const required = (hit.operation.parameters ?? []).filter((p) => p.in === "query" && p.required).map((p) => p.name);
      for (const name of required) if (!r.query.has(name)) problems.push(`${r.method} ${hit.template}: required query parameter "${name}" missing`);
      // Values too: query strings are text, so numbers and booleans are read as the spec's type first.
      for (const [name, raw] of r.query) {
        const schema = (hit.operation.parameters ?? []).find((p) => p.in === "query" && p.name === name) as { schema?: Schema } | undefined;
        const type = (schema?.schema as { type?: string } | undefined)?.type;
        const value = type === "integer" && /^-?\d+$/.test(raw) ? Number(raw) : type === "boolean" && (raw === "true" || raw === "false") ? raw === "true" : raw;
        problems.push(...validate(spec, schema?.schema, value, `query.${name}`).map((e) => `${r.method} ${hit.template} ${e}`));
      }
    }
    expect(problems).toEqual([]);
  });

  it("covers every operation the adapter uses", () => {
    const used = new Set(managementCalls().map((r) => `${r.method} ${matchTemplate(spec, r.method, r.path.slice("/api/v2".length))?.template}`));
    expect([...used].sort()).toEqual(
      [
        "DELETE /user-blocks/{id}",
        "DELETE /users/{id}/authentication-methods",
        "DELETE /users/{id}/authenticators",
        "DELETE /users/{user_id}/refresh-tokens",
        "DELETE /users/{user_id}/sessions",
        "GET /user-blocks/{id}",
        "GET /users-by-email",
        "GET /users/{id}",
        "GET /users/{id}/authentication-methods",
        "GET /users/{id}/logs",
        "GET /users/{user_id}/sessions",
        "PATCH /users/{id}",
        "POST /tickets/password-change",
        "POST /users/{id}/multifactor/actions/invalidate-remember-browser",
      ].sort(),
    );
  });

  it("request bodies validate against the spec's request schema", () => {
    const problems: string[] = [];
    const withBody = managementCalls().filter((r) => r.rawBody);
    for (const r of withBody) {
      const hit = matchTemplate(spec, r.method, r.path.slice("/api/v2".length));
      const schema = hit?.operation.requestBody?.content?.["application/json"]?.schema;
      if (!schema) problems.push(`${r.method} ${r.path}: sent a body the spec does not define`);
      else problems.push(...validate(spec, schema, r.body).map((e) => `${r.method} ${hit.template} request ${e}`));
    }
    expect(withBody.length).toBeGreaterThanOrEqual(3);
    expect(problems).toEqual([]);
  });

  it("the fake answers only with declared statuses, and its bodies validate against the spec's response schemas", () => {
    const problems: string[] = [];
    let validated = 0;
    for (const r of managementCalls()) {
      const hit = matchTemplate(spec, r.method, r.path.slice("/api/v2".length));
      if (!hit) continue;
      const response = hit.operation.responses?.[String(r.status)];
      if (!response) {
        problems.push(`${r.method} ${hit.template}: status ${r.status} is not declared`);
        continue;
      }
      const schema = response.content?.["application/json"]?.schema;
      if (r.status >= 400) continue; // the spec declares error statuses without bodies
      if (!schema) {
        if (r.responseBody !== undefined) problems.push(`${r.method} ${hit.template}: body sent where the spec has none`);
        continue;
      }
      validated++;
      problems.push(...validate(spec, schema, r.responseBody).map((e) => `${r.method} ${hit.template} ${r.status} ${e}`));
    }
    expect(validated).toBeGreaterThanOrEqual(8);
    expect(problems).toEqual([]);
  });

  it("the checker itself rejects shapes the spec forbids", () => {
    const blocks = matchTemplate(spec, "GET", "/user-blocks/auth0%7Cx")?.operation.responses?.["200"]?.content?.["application/json"]?.schema;
    expect(validate(spec, blocks, { blocked_for: [] })).toEqual([]);
    expect(validate(spec, blocks, { blocked_for: [], unexpected: 1 })).toEqual(['$: property "unexpected" is not allowed']);
    const user = matchTemplate(spec, "GET", "/users/auth0%7Cx")?.operation.responses?.["200"]?.content?.["application/json"]?.schema;
    expect(validate(spec, user, { user_id: "auth0|x", blocked: "yes" })).toEqual(["$.blocked: expected boolean, got string"]);
    const methods = matchTemplate(spec, "GET", "/users/auth0%7Cx/authentication-methods")?.operation.responses?.["200"]?.content?.["application/json"]?.schema;
    expect(validate(spec, methods, { authenticators: [{ id: "x", type: "carrier-pigeon", created_at: "2026-01-01T00:00:00Z" }] }).length).toBeGreaterThan(0);
    expect(validate(spec, methods, [{ id: "x", type: "totp" }]).join()).toContain("created_at");
  });

  it("the fake asks each endpoint for the scopes the contract lists for it", () => {
    const problems: string[] = [];
    for (const [route, scopes] of Object.entries(ROUTE_SCOPES)) {
      const [method, template] = route.split(" ") as [string, string];
      const operation = spec.paths[template]?.[method.toLowerCase()] as { security?: Record<string, string[]>[] } | undefined;
      const listed = operation?.security?.find((s) => "oAuth2ClientCredentials" in s)?.oAuth2ClientCredentials;
      if (!listed) problems.push(`${route}: the contract lists no client-credentials scopes`);
      else if ([...listed].sort().join() !== [...scopes].sort().join()) problems.push(`${route}: fake wants ${scopes.join(",")}, contract lists ${listed.join(",")}`);
    }
    expect(problems).toEqual([]);
  });

  it.each(Object.keys(ROUTE_SCOPES))("%s: the token Steward's application gets carries a scope it accepts, and the adapter's request passed", (route) => {
    const [method, template] = route.split(" ") as [string, string];
    const hits = managementCalls().filter((r) => r.method === method && matchTemplate(spec, r.method, r.path.slice("/api/v2".length))?.template === template);
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.filter((r) => r.status === 401 || r.status === 403)).toEqual([]);
    expect(ROUTE_SCOPES[route]?.some((scope) => (STEWARD_AUTH0_SCOPES as readonly string[]).includes(scope))).toBe(true);
  });
});

describe("Auth0 fake checks the Management API token's scopes, as Auth0 does", () => {
  const locked = { id: "usr_1", idpId: "auth0|locked", email: "lou.locked@acme.example" };

  it("a client grant without a needed scope: 403 insufficient_scope naming the scopes wanted, nothing changed", async () => {
    const narrow = new Auth0Fake({ grantedScopes: STEWARD_AUTH0_SCOPES.filter((s) => s !== "update:users") });
    await narrow.start();
    try {
      seedAuth0Users(narrow);
      const port = createAuth0Identity({ config: testConfig({ ...narrow.env(), PROVIDER_TIMEOUT_MS: "5000", PROVIDER_MAX_RETRIES: "0" }), clock: new ManualClock() });
      const err = await port.setBlocked(locked, true).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ provider: "auth0", code: "misconfigured", status: 403 });
      const refused = narrow.requests.find((r) => r.method === "PATCH");
      expect(refused?.status).toBe(403);
      expect(refused?.responseBody).toEqual({ statusCode: 403, error: "Forbidden", message: "Insufficient scope, expected any of: update:users,update:users_app_metadata,update:current_user_metadata", errorCode: "insufficient_scope" });
      expect(narrow.users.get("auth0|locked")?.blocked).not.toBe(true);
      // Reads that need only read:users still work with that grant.
      expect((await port.getIdentity(locked)).providerUserId).toBe("auth0|locked");
    } finally {
      await narrow.close();
    }
  });

  it("a token asked for with a narrower scope carries only that, and the grant still bounds it", async () => {
    const res = await fetch(`${fake.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials", client_id: fake.clientId, client_secret: fake.clientSecret, audience: `https://${fake.domain}/api/v2/`, scope: "read:users delete:users" }),
    });
    const { access_token, scope } = (await res.json()) as { access_token: string; scope: string };
    expect(scope).toBe("read:users");
    const get = await fetch(`${fake.url}/api/v2/users/${encodeURIComponent("auth0|locked")}`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(get.status).toBe(200);
    const del = await fetch(`${fake.url}/api/v2/users/${encodeURIComponent("auth0|locked")}/sessions`, { method: "DELETE", headers: { authorization: `Bearer ${access_token}` } });
    expect(del.status).toBe(403);
    expect(await del.json()).toMatchObject({ errorCode: "insufficient_scope", message: "Insufficient scope, expected any of: delete:sessions" });
  });
});

describe("Auth0 fake checks query strings as the Management API does", () => {
  it("its query rules name only parameters the contract declares, with the contract's bounds", () => {
    const problems: string[] = [];
    for (const [route, rules] of Object.entries(ROUTE_QUERY)) {
      const [method, template] = route.split(" ") as [string, string];
      const declared = new Map((spec.paths[template]?.[method.toLowerCase()]?.parameters ?? []).filter((p) => p.in === "query").map((p) => [p.name, (p as { schema?: { minimum?: number; maximum?: number } }).schema]));
      for (const [name, rule] of Object.entries(rules)) {
        if (!declared.has(name)) problems.push(`${route}: ${name} is not in the contract`);
        const bounds = declared.get(name);
        if (rule.type === "integer" && (bounds?.maximum !== rule.maximum || bounds?.minimum !== rule.minimum)) problems.push(`${route}: ${name} bounds differ from the contract`);
      }
      for (const name of declared.keys()) if (!(name in rules)) problems.push(`${route}: the fake would refuse the declared ${name}`);
    }
    expect(problems).toEqual([]);
  });

  it("refuses an unknown parameter and a value out of bounds with 400 invalid_query_string", async () => {
    const token = await fetch(`${fake.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials", client_id: fake.clientId, client_secret: fake.clientSecret }),
    }).then(async (r) => ((await r.json()) as { access_token: string }).access_token);
    const get = (q: string) => fetch(`${fake.url}/api/v2/users/${encodeURIComponent("auth0|locked")}/logs?${q}`, { headers: { authorization: `Bearer ${token}` } });
    expect((await get("page=0&per_page=10&sort=date:-1")).status).toBe(200);
    const tooMany = await get("per_page=101");
    expect(tooMany.status).toBe(400);
    expect(await tooMany.json()).toMatchObject({ errorCode: "invalid_query_string", message: "Query validation error: 'Too large: must be at most 100 on property per_page'." });
    expect(await (await get("q=type:f")).json()).toMatchObject({ statusCode: 400, errorCode: "invalid_query_string" });
  });
});
