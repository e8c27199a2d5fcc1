import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { Management } from "auth0";
import { HttpFake, type FailOptions, type FakeReply, type FakeRequest } from "./httpFake.js";

/**
 * A stateful stand-in for the parts of Auth0 Steward uses: client-credentials tokens carrying the
 * scopes the client grant allows, and the Management API v2 user, block, MFA, session, log and
 * ticket endpoints, with Auth0's shapes; a token without a scope an endpoint needs gets Auth0's 403.
 */
export interface Auth0FakeOptions {
  domain?: string;
  clientId?: string;
  clientSecret?: string;
  /** The Management API scopes the client grant gives Steward's application (default: the ones Steward needs). */
  grantedScopes?: readonly string[];
}

/**
 * The scopes Steward's Auth0 application needs on the Management API, one per endpoint it calls
 * (each endpoint accepts any one of the scopes the contract lists for it; see ROUTE_SCOPES below).
 */
export const STEWARD_AUTH0_SCOPES = [
  "read:users",
  "update:users",
  "read:authentication_methods",
  "delete:authentication_methods",
  "delete:guardian_enrollments",
  "read:sessions",
  "delete:sessions",
  "delete:refresh_tokens",
  "read:logs",
  "create:user_tickets",
] as const;

export interface Auth0UserSeed {
  user_id: string;
  email: string;
  name?: string;
  blocked?: boolean;
  last_login?: string;
  connection?: string;
  /** Brute-force blocks (what userBlocks.list returns). */
  blockedFor?: Management.UserBlockIdentifier[];
  authenticationMethods?: Management.UserAuthenticationMethod[];
  sessions?: number;
  refreshTokens?: number;
  logs?: Management.Log[];
}

type Params = Record<string, string>;
type Handler = (req: FakeRequest, params: Params) => FakeReply;

/**
 * Which scopes each Management API endpoint accepts (any one of them), as the Management API's
 * OpenAPI document lists them (auth0Contract.test.ts checks this table against it).
 */
/** Query parameters each endpoint accepts, with the contract's bounds; anything else Auth0 refuses (400 invalid_query_string). */
type QueryRule = { type: "integer"; minimum?: number; maximum?: number } | { type: "boolean" } | { type: "string"; pattern?: RegExp };
const FIELDS = /^[a-z_]+(,[a-z_]+)*$/;
export const ROUTE_QUERY: Record<string, Record<string, QueryRule>> = {
  "GET /users/{id}": { fields: { type: "string", pattern: FIELDS }, include_fields: { type: "boolean" } },
  "GET /users-by-email": { email: { type: "string" }, fields: { type: "string", pattern: FIELDS }, include_fields: { type: "boolean" } },
  "GET /users/{id}/authentication-methods": { page: { type: "integer", minimum: 0 }, per_page: { type: "integer", minimum: 0, maximum: 100 }, include_totals: { type: "boolean" } },
  "GET /users/{user_id}/sessions": { include_totals: { type: "boolean" }, from: { type: "string" }, take: { type: "integer", minimum: 1, maximum: 100 } },
  "GET /users/{id}/logs": { page: { type: "integer" }, per_page: { type: "integer", minimum: 1, maximum: 100 }, sort: { type: "string", pattern: /^[a-z_]+:(1|-1)$/ }, include_totals: { type: "boolean" } },
};

/** Why Auth0 would refuse this query string; undefined when it is fine. */
function queryProblem(rules: Record<string, QueryRule>, query: URLSearchParams): string | undefined {
  for (const [name, value] of query) {
    const rule = rules[name];
    if (!rule) return `Additional properties not allowed: ${name}`;
    if (rule.type === "boolean" && value !== "true" && value !== "false") return `Expected type boolean but found type string on property ${name}`;
    if (rule.type === "integer") {
      if (!/^-?\d+$/.test(value)) return `Expected type integer but found type string on property ${name}`;
      if (rule.maximum !== undefined && Number(value) > rule.maximum) return `Too large: must be at most ${rule.maximum} on property ${name}`;
      if (rule.minimum !== undefined && Number(value) < rule.minimum) return `Too small: must be at least ${rule.minimum} on property ${name}`;
    }
    if (rule.type === "string" && rule.pattern && !rule.pattern.test(value)) return `String does not match pattern on property ${name}`;
  }
  return undefined;
}

export const ROUTE_SCOPES: Record<string, readonly string[]> = {
  "GET /users/{id}": ["read:users", "read:current_user", "read:user_idp_tokens"],
  "GET /users-by-email": ["read:users"],
  "PATCH /users/{id}": ["update:users", "update:users_app_metadata", "update:current_user_metadata"],
  "GET /user-blocks/{id}": ["read:users"],
  "DELETE /user-blocks/{id}": ["update:users"],
  "GET /users/{id}/authentication-methods": ["read:authentication_methods"],
  "DELETE /users/{id}/authentication-methods": ["delete:authentication_methods"],
  "DELETE /users/{id}/authenticators": ["delete:guardian_enrollments"],
  "POST /users/{id}/multifactor/actions/invalidate-remember-browser": ["update:users"],
  "GET /users/{user_id}/sessions": ["read:sessions"],
  "DELETE /users/{user_id}/sessions": ["delete:sessions"],
  "DELETE /users/{user_id}/refresh-tokens": ["delete:refresh_tokens"],
  "GET /users/{id}/logs": ["read:logs", "read:logs_users"],
  "POST /tickets/password-change": ["create:user_tickets"],
};

const auth0Error = (status: number, error: string, message: string, errorCode?: string): FakeReply => ({
  status,
  body: { statusCode: status, error, message, ...(errorCode ? { errorCode } : {}) },
});
const STATUS_TEXT: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable" };

export class Auth0Fake extends HttpFake {
  readonly domain: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly users = new Map<string, Management.GetUserResponseContent>();
  readonly blocks = new Map<string, Management.UserBlockIdentifier[]>();
  readonly methods = new Map<string, Management.UserAuthenticationMethod[]>();
  readonly sessions = new Map<string, Management.SessionResponseContent[]>();
  readonly refreshTokens = new Map<string, number>();
  readonly logs = new Map<string, Management.Log[]>();
  /** Users whose "remember this browser" MFA cookies were invalidated. */
  readonly rememberBrowserInvalidated = new Set<string>();
  readonly passwordTickets: { user_id: string; ticket: string; ttl_sec?: number }[] = [];
  tokensIssued = 0;
  /** What the client grant allows; change it to model an application set up without some scope. */
  grantedScopes: string[];
  /** Each token issued and the scopes it carries. */
  private readonly tokens = new Map<string, Set<string>>();
  private readonly routes: { method: string; pattern: RegExp; scopes: readonly string[]; query: Record<string, QueryRule>; handler: Handler }[] = [];

  constructor(options: Auth0FakeOptions = {}) {
    super();
    this.domain = options.domain ?? "steward-test.eu.auth0.com";
    this.clientId = options.clientId ?? "steward-client-id";
    this.clientSecret = options.clientSecret ?? "steward-client-secret";
    this.grantedScopes = [...(options.grantedScopes ?? STEWARD_AUTH0_SCOPES)];
    this.defineRoutes();
  }

  /** The environment that points Steward's Auth0 adapter at this fake. */
  env(): Record<string, string> {
    return { IDENTITY_PROVIDER: "auth0", AUTH0_DOMAIN: this.domain, AUTH0_CLIENT_ID: this.clientId, AUTH0_CLIENT_SECRET: this.clientSecret, AUTH0_BASE_URL: this.url };
  }

  addUser(seed: Auth0UserSeed): Management.GetUserResponseContent {
    const now = new Date().toISOString();
    const [provider, bareId] = seed.user_id.includes("|") ? (seed.user_id.split("|", 2) as [string, string]) : ["auth0", seed.user_id];
    const user: Management.GetUserResponseContent = {
      user_id: seed.user_id,
      // Auth0 saves the address of a user of its own database connections in lower case; other IdPs' as they give it.
      email: provider === "auth0" ? seed.email.toLowerCase() : seed.email,
      email_verified: true,
      name: seed.name ?? seed.email,
      nickname: seed.email.split("@")[0] ?? seed.email,
      picture: "https://s.gravatar.com/avatar/0?s=480&r=pg&d=mp",
      created_at: "2025-01-15T09:00:00.000Z",
      updated_at: now,
      identities: [{ connection: seed.connection ?? "Username-Password-Authentication", provider: provider as Management.UserIdentityProviderEnum, user_id: bareId, isSocial: false }],
      logins_count: 12,
      ...(seed.last_login ? { last_login: seed.last_login, last_ip: "203.0.113.7" } : {}),
      ...(seed.blocked !== undefined ? { blocked: seed.blocked } : {}),
    };
    this.users.set(seed.user_id, user);
    this.blocks.set(seed.user_id, seed.blockedFor ?? []);
    this.methods.set(seed.user_id, seed.authenticationMethods ?? []);
    this.sessions.set(
      seed.user_id,
      Array.from({ length: seed.sessions ?? 0 }, (_, i) => ({
        id: `ses_${randomBytes(6).toString("hex")}`,
        user_id: seed.user_id,
        created_at: now,
        updated_at: now,
        authenticated_at: now,
        last_interacted_at: now,
        device: { initial_user_agent: "Mozilla/5.0", initial_ip: `198.51.100.${i + 1}`, last_user_agent: "Mozilla/5.0", last_ip: `198.51.100.${i + 1}` },
        clients: [{ client_id: "app-client" }],
        authentication: { methods: [{ name: "pwd", timestamp: now }] },
      })),
    );
    this.refreshTokens.set(seed.user_id, seed.refreshTokens ?? 0);
    this.logs.set(seed.user_id, seed.logs ?? []);
    return user;
  }

  protected override faultable(req: FakeRequest): boolean {
    return req.path.startsWith("/api/v2/");
  }

  protected parseBody(raw: string, headers: IncomingHttpHeaders): unknown {
    if (String(headers["content-type"] ?? "").includes("application/x-www-form-urlencoded")) return Object.fromEntries(new URLSearchParams(raw));
    return JSON.parse(raw) as unknown;
  }

  protected errorReply(status: number, options: FailOptions): FakeReply {
    const reply = auth0Error(status, STATUS_TEXT[status] ?? "Error", status === 429 ? "Global limit has been reached" : "Injected failure", status === 429 ? "too_many_requests" : undefined);
    if (status === 429) {
      const resetIn = options.retryAfter ?? 1;
      reply.headers = {
        "x-ratelimit-limit": "50",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000) + resetIn),
        ...(options.retryAfter !== undefined ? { "retry-after": String(options.retryAfter) } : {}),
      };
    }
    return reply;
  }

  protected route(req: FakeRequest): FakeReply {
    if (req.method === "POST" && req.path === "/oauth/token") return this.issueToken(req);
    if (!req.path.startsWith("/api/v2/")) return auth0Error(404, "Not Found", "Not Found");
    const bearer = String(req.headers.authorization ?? "").replace(/^Bearer /, "");
    const scopes = this.tokens.get(bearer);
    if (!scopes) return auth0Error(401, "Unauthorized", "Invalid token", "invalid_token");
    const path = req.path.slice("/api/v2".length);
    for (const r of this.routes) {
      const match = r.method === req.method ? r.pattern.exec(path) : null;
      if (!match) continue;
      // Auth0 checks the token's scopes before anything else, and names what it wanted.
      if (!r.scopes.some((scope) => scopes.has(scope))) return auth0Error(403, "Forbidden", `Insufficient scope, expected any of: ${r.scopes.join(",")}`, "insufficient_scope");
      const bad = queryProblem(r.query, req.query);
      if (bad) return auth0Error(400, "Bad Request", `Query validation error: '${bad}'.`, "invalid_query_string");
      return r.handler(req, Object.fromEntries(Object.entries(match.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)])));
    }
    return auth0Error(404, "Not Found", `No route ${req.method} ${path}`);
  }

  private issueToken(req: FakeRequest): FakeReply {
    const body = (req.body ?? {}) as Record<string, string>;
    if (body.grant_type !== "client_credentials" || body.client_id !== this.clientId || body.client_secret !== this.clientSecret) {
      return { status: 401, body: { error: "access_denied", error_description: "Unauthorized" } };
    }
    // The token carries what the grant allows, narrowed to the scopes asked for when the request names some.
    const asked = typeof body.scope === "string" && body.scope.trim() ? new Set(body.scope.trim().split(/\s+/)) : undefined;
    const scopes = this.grantedScopes.filter((scope) => !asked || asked.has(scope));
    const token = `fake-mgmt-${randomBytes(12).toString("hex")}`;
    this.tokens.set(token, new Set(scopes));
    this.tokensIssued++;
    return { status: 200, body: { access_token: token, token_type: "Bearer", expires_in: 86_400, scope: scopes.join(" ") } };
  }

  private user(id: string): Management.GetUserResponseContent | undefined {
    return this.users.get(id);
  }

  private defineRoutes(): void {
    const on = (method: string, template: string, handler: Handler) => {
      const pattern = new RegExp(`^${template.replace(/\{(\w+)\}/g, "(?<$1>[^/]+)")}$`);
      const scopes = ROUTE_SCOPES[`${method} ${template}`];
      if (!scopes) throw new Error(`no scopes listed for ${method} ${template}`);
      this.routes.push({ method, pattern, scopes, query: ROUTE_QUERY[`${method} ${template}`] ?? {}, handler });
    };
    const missingUser = () => auth0Error(404, "Not Found", "The user does not exist.", "inexistent_user");
    const withUser = (fn: (id: string, req: FakeRequest) => FakeReply): Handler => (req, params) => {
      const id = params.id ?? params.user_id ?? "";
      return this.user(id) ? fn(id, req) : missingUser();
    };
    // Where the contract declares no 404, an unknown user id is simply a user with nothing to list or remove.
    const anyUser = (fn: (id: string, req: FakeRequest) => FakeReply): Handler => (req, params) => fn(params.id ?? params.user_id ?? "", req);

    on("GET", "/users/{id}", withUser((id) => ({ status: 200, body: this.user(id) })));
    // An exact match, case included (Auth0's "make sure you search using the correct case").
    on("GET", "/users-by-email", (req) => {
      const email = req.query.get("email") ?? "";
      return { status: 200, body: [...this.users.values()].filter((u) => u.email === email) };
    });
    on(
      "PATCH",
      "/users/{id}",
      withUser((id, req) => {
        const changes = (req.body ?? {}) as { blocked?: boolean };
        const user = { ...this.user(id), ...(changes.blocked !== undefined ? { blocked: changes.blocked } : {}), updated_at: new Date().toISOString() };
        this.users.set(id, user);
        return { status: 200, body: user };
      }),
    );
    on("GET", "/user-blocks/{id}", withUser((id) => ({ status: 200, body: { blocked_for: this.blocks.get(id) ?? [] } })));
    on(
      "DELETE",
      "/user-blocks/{id}",
      withUser((id) => {
        this.blocks.set(id, []);
        return { status: 204 };
      }),
    );
    on(
      "GET",
      "/users/{id}/authentication-methods",
      withUser((id, req) => {
        const all = this.methods.get(id) ?? [];
        const page = Number(req.query.get("page") ?? 0);
        const perPage = Number(req.query.get("per_page") ?? 50);
        const slice = all.slice(page * perPage, (page + 1) * perPage);
        return { status: 200, body: req.query.get("include_totals") === "true" ? { start: page * perPage, limit: perPage, total: all.length, authenticators: slice } : slice };
      }),
    );
    const removeFactors = anyUser((id) => {
      if (this.user(id)) this.methods.set(id, []);
      return { status: 204 };
    });
    on("DELETE", "/users/{id}/authentication-methods", removeFactors);
    // Legacy Guardian enrolments; this fake keeps all factors in authentication methods.
    on("DELETE", "/users/{id}/authenticators", removeFactors);
    on(
      "POST",
      "/users/{id}/multifactor/actions/invalidate-remember-browser",
      anyUser((id) => {
        if (this.user(id)) this.rememberBrowserInvalidated.add(id);
        return { status: 204 };
      }),
    );
    // A page of at most `take`, and a `next` cursor while more are left (an opaque string at Auth0).
    on(
      "GET",
      "/users/{user_id}/sessions",
      withUser((id, req) => {
        const all = this.sessions.get(id) ?? [];
        const cursor = req.query.get("from");
        const start = cursor === null ? 0 : Number(/^cur_(\d+)$/.exec(cursor)?.[1] ?? Number.NaN);
        if (!Number.isInteger(start)) return auth0Error(400, "Bad Request", "Invalid from parameter", "invalid_query_string");
        const end = start + Number(req.query.get("take") ?? 50);
        return { status: 200, body: { sessions: all.slice(start, end), ...(end < all.length ? { next: `cur_${end}` } : {}) } };
      }),
    );
    on(
      "DELETE",
      "/users/{user_id}/sessions",
      withUser((id) => {
        this.sessions.set(id, []);
        return { status: 202 };
      }),
    );
    on(
      "DELETE",
      "/users/{user_id}/refresh-tokens",
      withUser((id) => {
        this.refreshTokens.set(id, 0);
        return { status: 202 };
      }),
    );
    on(
      "GET",
      "/users/{id}/logs",
      anyUser((id, req) => {
        const descending = (req.query.get("sort") ?? "date:-1") === "date:-1";
        const all = [...(this.logs.get(id) ?? [])].sort((a, b) => String(a.date).localeCompare(String(b.date)) * (descending ? -1 : 1));
        const page = Number(req.query.get("page") ?? 0);
        const perPage = Number(req.query.get("per_page") ?? 50);
        const logs = all.slice(page * perPage, (page + 1) * perPage);
        return { status: 200, body: req.query.get("include_totals") === "true" ? { start: page * perPage, limit: perPage, length: logs.length, total: all.length, logs } : logs };
      }),
    );
    on("POST", "/tickets/password-change", (req) => {
      const body = (req.body ?? {}) as { user_id?: string; ttl_sec?: number };
      if (!body.user_id || !this.user(body.user_id)) return missingUser();
      const ticket = `https://${this.domain}/lo/reset?ticket=${randomBytes(16).toString("hex")}#`;
      this.passwordTickets.push({ user_id: body.user_id, ticket, ttl_sec: body.ttl_sec });
      return { status: 201, body: { ticket } };
    });
  }
}
