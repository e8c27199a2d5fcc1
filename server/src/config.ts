import { existsSync } from "node:fs";
import { z } from "zod";
import { wholeNumberText } from "../../shared/schemas/audit.js";
import type { DatabaseLimits } from "./db/database.js";
import { DEFAULT_PLAN_CATALOG, readPlanCatalog, type PlanCatalog } from "./providers/planCatalog.js";

/**
 * Every setting comes from the environment, parsed here once at start. `.env.example` documents
 * each variable; a bad value stops start-up with one line naming it.
 */
const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"], { message: "expected true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");
const port = z.coerce
  .number({ message: "expected a port number" })
  .int("expected a whole number")
  .min(0, "expected 0-65535")
  .max(65535, "expected 0-65535");
const positiveInt = z.coerce.number({ message: "expected a number" }).int("expected a whole number").positive("expected a positive number");
const url = z.url({ message: "expected a URL" });
const optionalText = z.string().trim().min(1).optional();

export const DEMO_SESSION_SECRET = "steward-demo-session-secret-not-for-production";
/** The example reset page (also in .env.example): fine for the demo, never a real customer's link. */
const EXAMPLE_RESET_URL = "https://app.example.com/reset-password";

const EnvSchema = z.object({
  STEWARD_MODE: z.enum(["demo", "production"], { message: "expected demo or production" }).optional(),
  PORT: port.default(3000),
  HOST: z.string().min(1).default("127.0.0.1"),
  PUBLIC_URL: url.optional(),
  /**
   * Which hops' X-Forwarded-For Steward believes (Express "trust proxy"): `loopback` (a proxy on the same
   * host), a number of hops, or comma-separated addresses/CIDRs of your proxies. Client IPs (logs, rate
   * limits) come from it, so never trust more than your own proxies.
   */
  TRUST_PROXY: z
    .string()
    .regex(/^(loopback|linklocal|uniquelocal|false|[0-9]{1,2}|[0-9a-fA-F:.]+(\/[0-9]{1,3})?(\s*,\s*[0-9a-fA-F:.]+(\/[0-9]{1,3})?)*)$/, "expected loopback, a hop count, false, or addresses/CIDRs separated by commas")
    .default("loopback"),
  /**
   * Rate limits per window (RATE_LIMIT_WINDOW_SECONDS), shared by every process on one PostgreSQL (PGlite:
   * this process). Per agent: reads, writes (actions), searches. Per client IP: sign-ins (session exchange,
   * sidebar page) and, across everything, RATE_LIMIT_PER_IP. Health and metrics are not limited.
   */
  RATE_LIMIT_WINDOW_SECONDS: positiveInt.default(60),
  RATE_LIMIT_READS: positiveInt.default(600),
  RATE_LIMIT_WRITES: positiveInt.default(60),
  RATE_LIMIT_SEARCHES: positiveInt.default(120),
  RATE_LIMIT_LOGINS: positiveInt.default(120),
  RATE_LIMIT_PER_IP: positiveInt.default(3000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], { message: "expected a pino level (info, debug…)" }).default("info"),

  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "expected a postgres:// URL")
    .optional(),
  DATABASE_POOL_SIZE: positiveInt.default(10),
  /** One statement may run this long before PostgreSQL cancels it (503 to the caller); PGlite: how long one request may keep its single connection busy or idle. */
  DATABASE_STATEMENT_TIMEOUT_MS: positiveInt.default(15_000),
  /** Waiting for a row or table lock held by someone else gives up after this (503). */
  DATABASE_LOCK_TIMEOUT_MS: positiveInt.default(5_000),
  /** Opening a connection, or waiting for a free one, gives up after this (503). */
  DATABASE_CONNECT_TIMEOUT_MS: positiveInt.default(5_000),
  DATA_DIR: z.string().min(1).default("./data"),
  DEMO_SEED: bool.default(true),

  ZENDESK_SUBDOMAIN: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "expected a Zendesk subdomain such as acme").optional(),
  ZAF_APP_PUBLIC_KEY: optionalText,
  ZAF_APP_PUBLIC_KEY_FILE: optionalText,
  ZAF_INSTALLATION_ID: optionalText,
  SESSION_SECRET: z.string().min(32, "expected at least 32 characters").optional(),
  SESSION_TTL_MINUTES: positiveInt.default(60),
  UNKNOWN_AGENT_ACCESS: z.enum(["read_only", "none"], { message: "expected read_only or none" }).default("read_only"),
  /** Where the built sidebar lives (vite output); defaults to zendesk-app/dist in the checkout. */
  APP_DIST_DIR: optionalText,

  IDENTITY_PROVIDER: z.enum(["builtin", "auth0"], { message: "expected builtin or auth0" }).default("builtin"),
  AUTH0_DOMAIN: optionalText,
  AUTH0_CLIENT_ID: optionalText,
  AUTH0_CLIENT_SECRET: optionalText,
  AUTH0_CONNECTION: z.string().default("Username-Password-Authentication"),
  AUTH0_BASE_URL: url.optional(),

  BILLING_PROVIDER: z.enum(["builtin", "stripe"], { message: "expected builtin or stripe" }).default("builtin"),
  STRIPE_SECRET_KEY: optionalText,
  STRIPE_BASE_URL: url.optional(),

  /** Who owns accounts and users: Steward's own tables (builtin), or the product's API per the directory contract (http). */
  DIRECTORY_PROVIDER: z.enum(["builtin", "http"], { message: "expected builtin or http" }).default("builtin"),
  /** DIRECTORY_PROVIDER=http: the product's base URL (the contract's paths start with /steward/directory/v1). */
  DIRECTORY_URL: url.optional(),
  /** DIRECTORY_PROVIDER=http: the `aud` of Steward's directory tokens, the id the product checks for (e.g. its product id). */
  DIRECTORY_AUDIENCE: optionalText,

  PROVIDER_TIMEOUT_MS: positiveInt.default(5000),
  // Ending access (an impersonation) reads the ticket only to record it: Zendesk is waited for this long, not the provider timeout.
  ENDS_ACCESS_TICKET_WAIT_MS: positiveInt.default(1500),
  PROVIDER_MAX_RETRIES: wholeNumberText().min(0).max(10).default(2),
  // The sidebar stops waiting for one provider after this; that part then shows a timeout, the rest still comes back.
  CONTEXT_PART_TIMEOUT_MS: positiveInt.default(8000),
  // The sidebar gives up on a request after this and offers Retry (a write keeps its Idempotency-Key).
  SIDEBAR_REQUEST_TIMEOUT_MS: positiveInt.default(15000),
  // Data the sidebar loaded longer ago than this is marked stale, with Refresh.
  SIDEBAR_STALE_AFTER_MS: positiveInt.default(60000),

  SMTP_URL: z.string().regex(/^smtps?:\/\//, "expected an smtp:// or smtps:// URL").optional(),
  MAIL_FROM: z.string().default("Steward <support@example.com>"),
  /** Seals bearer secrets (reset links) in the mail outbox: 32 bytes, base64 (required in production). */
  MAIL_SECRET_KEY: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, "expected 32 bytes, base64-encoded (openssl rand -base64 32)").optional(),
  /** How often the mail outbox is checked for due mail. */
  MAIL_POLL_MS: positiveInt.default(2_000),
  /** How often expired temporary grants (role elevations, seat expansions) are reverted. */
  SWEEP_INTERVAL_MS: positiveInt.default(60_000),
  /** The product's reset page; built-in identity reset links are this URL with `?token=`. */
  PRODUCT_RESET_URL: url.default(EXAMPLE_RESET_URL),
  SHUTDOWN_GRACE_MS: positiveInt.default(10_000),
  /** A mail being delivered is leased to one process this long (renewed while it sends); a crash frees it after. */
  MAIL_LEASE_MS: positiveInt.default(30_000),
  /** Bearer token for GET /metrics. Production without it: /metrics is closed. Demo without it: open. */
  METRICS_TOKEN: z.string().min(16, "expected at least 16 characters").optional(),
  /** How long a lease (an account being written, an Idempotency-Key in progress, a provider operation) outlives a holder that stopped renewing it. */
  OPERATION_LEASE_MS: positiveInt.default(30_000),
  /** How long a write waits for another write on the same account to finish before answering 409 target_busy. */
  TARGET_LEASE_WAIT_MS: wholeNumberText().min(0).default(5_000),
  /** How often the reconciler looks for provider operations whose outcome is not known. */
  RECONCILE_INTERVAL_MS: positiveInt.default(5_000),
  /**
   * Past this age an open operation is never retried with its provider idempotency key (Stripe may
   * prune keys once 24 h old, and a pruned key applies again): the reconciler only re-reads, and
   * what a re-read cannot settle waits in `needs_review` for operations.
   */
  RECONCILE_KEY_HORIZON_MS: positiveInt.default(82_800_000),

  /** The audit key (≥ 64 hex characters) the database never holds; or a file holding it. Demo: generated under DATA_DIR. */
  AUDIT_SEAL_KEY: z.string().trim().regex(/^(?:[0-9a-fA-F]{2}){32,}$/, "expected at least 64 hex characters (32 random bytes)").optional(),
  AUDIT_SEAL_KEY_FILE: optionalText,
  /** How often the sealer looks for newly committed audit entries. */
  AUDIT_SEAL_INTERVAL_MS: positiveInt.default(200),
  /** A signed checkpoint after this many sealed entries, or this long after the last one. */
  AUDIT_CHECKPOINT_EVERY: positiveInt.default(10_000),
  AUDIT_CHECKPOINT_INTERVAL_MS: positiveInt.default(60_000),
  /** Where checkpoints are exported for auditors: a directory (one JSON file each) and/or an HTTP endpoint (POST). */
  AUDIT_CHECKPOINT_DIR: optionalText,
  AUDIT_CHECKPOINT_URL: url.optional(),

  /** Impersonation: a session ends after this long without activity in the product. */
  IMPERSONATION_IDLE_MINUTES: positiveInt.default(15),
  /** The grant signing keys (a JSON key set this process and `keys rotate` share); demo: under DATA_DIR. */
  IMPERSONATION_KEYS_FILE: optionalText,
  /** Or one EC P-256 private key (PKCS#8 PEM) from the environment; rotate by replacing it. */
  IMPERSONATION_SIGNING_KEY: optionalText,
  /** How the customer notice names the agent: their first name, or "a support agent". */
  IMPERSONATION_NOTICE_AGENT: z.enum(["first_name", "generic"], { message: "expected first_name or generic" }).default("first_name"),
  /** How often live sessions are checked against their deadlines (the product's status checks end them sooner). */
  IMPERSONATION_SWEEP_MS: positiveInt.default(5_000),

  /** Server-side Zendesk API (internal notes): an agent's email and API token; ZENDESK_API_URL overrides the base. */
  ZENDESK_API_EMAIL: optionalText,
  ZENDESK_API_TOKEN: optionalText,
  ZENDESK_API_URL: url.optional(),
  /** How long a ticket read for verification is reused (0: read Zendesk on every write). */
  TICKET_CACHE_SECONDS: wholeNumberText().min(0).max(600).default(30),

  /**
   * Working hours for the console's "outside working hours" flag: ISO weekdays, a time range and an
   * IANA time zone, e.g. `mon-fri 08:00-18:00 Europe/Berlin` (checked by parseWorkingHours at start).
   */
  CONSOLE_WORKING_HOURS: z
    .string()
    .trim()
    .regex(/^(mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))? ([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9] [A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/, "expected days, hours and a time zone, e.g. mon-fri 08:00-18:00 Europe/Berlin")
    .refine((v) => {
      try {
        new Intl.DateTimeFormat("en", { timeZone: v.split(" ")[2] });
        return true;
      } catch {
        return false;
      }
    }, "expected an IANA time zone such as Europe/Berlin or UTC")
    // The flag tests minute >= end or < start: a range past midnight (22:00-06:00) would flag every write.
    .refine((v) => {
      const [start = "", end = ""] = (v.split(" ")[1] ?? "").split("-");
      return start < end && end <= "24:00";
    }, "expected the hours to end after they start, within one day (00:00-24:00)")
    .default("mon-fri 08:00-18:00 UTC"),

  /** Demo mode: the port of the demo product `npm start` runs beside Steward. */
  DEMO_PRODUCT_PORT: port.default(3100),
  /** A JSON file mapping plans to per-seat prices and Stripe lookup keys (docs/deploy.md); default: the demo plans. */
  PLAN_CATALOG_FILE: optionalText,
});

export type Env = z.infer<typeof EnvSchema>;

/** Settings only a real installation has; any of them without an explicit STEWARD_MODE stops start-up. */
const PRODUCTION_SIGNS = ["DATABASE_URL", "ZENDESK_SUBDOMAIN", "ZAF_APP_PUBLIC_KEY", "ZAF_APP_PUBLIC_KEY_FILE", "ZAF_INSTALLATION_ID", "SESSION_SECRET"] as const;
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "::1", "localhost"]);

/** Every variable Steward reads (the schema's, plus ENV_FILE, read before it): documented in .env.example and the README. */
export const configVariables: string[] = [...Object.keys(EnvSchema.shape), "ENV_FILE"];

export interface Config extends Omit<Env, "STEWARD_MODE"> {
  STEWARD_MODE: "demo" | "production";
  demo: boolean;
  database: { kind: "postgres"; url: string; poolSize: number } | { kind: "pglite"; dataDir: string };
  /** The server's bounds on database waits (the CLI runs without them). */
  databaseLimits: DatabaseLimits;
  publicUrl: string;
  zendeskIssuer: string | undefined;
  /** Base of the Zendesk REST API (…/api/v2), or undefined when notes cannot be written. */
  zendeskApiUrl: string | undefined;
  /** The plans Steward may move a subscription to, with their prices (PLAN_CATALOG_FILE or the demo plans). */
  planCatalog: PlanCatalog;
  /** TRUST_PROXY as Express takes it. */
  trustProxy: boolean | number | string | string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; reason: string }[]) {
    super(problems.map((p) => `${p.variable}: ${p.reason}`).join("; "));
    this.name = "ConfigError";
  }
  /** One line for the operator, naming each bad variable. */
  get line(): string {
    return `Steward cannot start: invalid configuration: ${this.message}`;
  }
  /** The same for a command-line tool (audit verify, staff grant…): it is not Steward starting. */
  get commandLine(): string {
    return `invalid configuration: ${this.message}`;
  }
}

/**
 * `modeGuessMatters: false` for tools that neither serve nor seed (db:migrate): the mode changes nothing they do.
 * `givenAs` names the command-line option a variable came from (DATABASE_URL → --database), so a mistake names
 * what the operator typed.
 */
export type LoadConfigOptions = { modeGuessMatters?: boolean; givenAs?: Partial<Record<string, string>> };

export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadConfigOptions = {}): Config {
  const named = (variable: string): string => options.givenAs?.[variable] ?? variable;
  // Empty strings mean "not set", as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const variable = String(issue.path[0] ?? "environment");
        const given = cleaned[variable];
        return { variable: named(variable), reason: `${issue.message}${given !== undefined ? ` (got "${String(given).slice(0, 40)}")` : ""}` };
      }),
    );
  }
  const e = parsed.data;
  const problems: { variable: string; reason: string }[] = [];
  // Never guess towards demo when anything production-like is configured: demo seeds data and mints admin sessions.
  const productionLike = PRODUCTION_SIGNS.filter((v) => cleaned[v] !== undefined);
  if (!e.STEWARD_MODE && productionLike.length && options.modeGuessMatters !== false) {
    throw new ConfigError([
      { variable: "STEWARD_MODE", reason: `not set, but ${productionLike.map(named).join(", ")} ${productionLike.length > 1 ? "are" : "is"}: set STEWARD_MODE=production (or STEWARD_MODE=demo to try the demo on them)` },
    ]);
  }
  const mode = e.STEWARD_MODE ?? "demo";
  const demo = mode === "demo";
  // The demo mints admin sessions for anyone who reaches /zendesk: it must not be reachable from other machines.
  if (demo && !LOOPBACK_HOSTS.has(e.HOST)) problems.push({ variable: "HOST", reason: `demo mode listens on loopback only (127.0.0.1, ::1 or localhost; got "${e.HOST.slice(0, 40)}")` });

  if (!demo) {
    // Production mode refuses demo-only settings and needs real Zendesk trust anchors.
    if (!e.DATABASE_URL) problems.push({ variable: "DATABASE_URL", reason: "required in production mode (PostgreSQL)" });
    if (!e.SESSION_SECRET) problems.push({ variable: "SESSION_SECRET", reason: "required in production mode" });
    if (e.SESSION_SECRET === DEMO_SESSION_SECRET) problems.push({ variable: "SESSION_SECRET", reason: "the demo secret is refused in production mode" });
    if (!e.ZENDESK_SUBDOMAIN) problems.push({ variable: "ZENDESK_SUBDOMAIN", reason: "required in production mode" });
    if (!e.ZAF_APP_PUBLIC_KEY && !e.ZAF_APP_PUBLIC_KEY_FILE) problems.push({ variable: "ZAF_APP_PUBLIC_KEY", reason: "required in production mode (or ZAF_APP_PUBLIC_KEY_FILE)" });
    if (!e.ZAF_INSTALLATION_ID) problems.push({ variable: "ZAF_INSTALLATION_ID", reason: "required in production mode" });
    if (!e.MAIL_SECRET_KEY) problems.push({ variable: "MAIL_SECRET_KEY", reason: "required in production mode (openssl rand -base64 32): seals reset links in the mail outbox" });
    if (!e.PUBLIC_URL) problems.push({ variable: "PUBLIC_URL", reason: "required in production mode (https URL Zendesk loads the sidebar from)" });
    // Plain http would drop HSTS and put sessions and impersonation grants on the wire unencrypted.
    else if (!/^https:\/\//i.test(e.PUBLIC_URL)) problems.push({ variable: "PUBLIC_URL", reason: `expected an https:// URL in production mode (got "${e.PUBLIC_URL.slice(0, 40)}"); terminate TLS at your proxy (docs/deploy.md)` });
    if (!e.AUDIT_SEAL_KEY && !e.AUDIT_SEAL_KEY_FILE) problems.push({ variable: "AUDIT_SEAL_KEY", reason: "required in production mode (or AUDIT_SEAL_KEY_FILE): the audit log's MAC key, kept out of the database" });
    if (e.DEMO_SEED && env.DEMO_SEED !== undefined) problems.push({ variable: "DEMO_SEED", reason: "demo data is refused in production mode" });
    // Built-in identity mails reset links to this page: the example's would hand customers' reset tokens to another host.
    if (e.IDENTITY_PROVIDER === "builtin" && new URL(e.PRODUCT_RESET_URL).hostname === new URL(EXAMPLE_RESET_URL).hostname) {
      problems.push({ variable: "PRODUCT_RESET_URL", reason: "set your product's reset page in production mode with IDENTITY_PROVIDER=builtin (reset links are mailed to it with their token); app.example.com is only the example" });
    } else if (e.IDENTITY_PROVIDER === "builtin" && !e.PRODUCT_RESET_URL.startsWith("https://")) {
      problems.push({ variable: "PRODUCT_RESET_URL", reason: `expected an https:// URL in production mode (reset links carry their token; got "${e.PRODUCT_RESET_URL.slice(0, 40)}")` });
    }
    // Without them every agent write would fail later with 503: each one reads its ticket from Zendesk first.
    if (!e.ZENDESK_API_TOKEN) problems.push({ variable: "ZENDESK_API_TOKEN", reason: "required in production mode (with ZENDESK_API_EMAIL): every write checks its ticket through the Zendesk API, and internal notes are written with it" });
  }
  if (e.IDENTITY_PROVIDER === "auth0") {
    for (const v of ["AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET"] as const) {
      if (!e[v]) problems.push({ variable: v, reason: "required when IDENTITY_PROVIDER=auth0" });
    }
    if (e.AUTH0_DOMAIN && !/^[a-z0-9.-]+$/i.test(e.AUTH0_DOMAIN)) problems.push({ variable: "AUTH0_DOMAIN", reason: "expected a bare host name such as tenant.eu.auth0.com" });
  }
  if ((e.ZENDESK_API_TOKEN || !demo) && !e.ZENDESK_API_EMAIL) problems.push({ variable: "ZENDESK_API_EMAIL", reason: `required ${demo ? "with ZENDESK_API_TOKEN" : "in production mode"} (the agent the API token belongs to)` });
  // Demo mode defaults to the demo product beside Steward (examples/demo-product implements the contract).
  if (e.DIRECTORY_PROVIDER === "http" && !demo) {
    if (!e.DIRECTORY_URL) problems.push({ variable: "DIRECTORY_URL", reason: "required when DIRECTORY_PROVIDER=http" });
    if (!e.DIRECTORY_AUDIENCE) problems.push({ variable: "DIRECTORY_AUDIENCE", reason: "required when DIRECTORY_PROVIDER=http" });
  }
  if (e.BILLING_PROVIDER === "stripe" && !e.STRIPE_SECRET_KEY) problems.push({ variable: "STRIPE_SECRET_KEY", reason: "required when BILLING_PROVIDER=stripe" });
  let planCatalog = DEFAULT_PLAN_CATALOG;
  if (e.PLAN_CATALOG_FILE) {
    try {
      planCatalog = readPlanCatalog(e.PLAN_CATALOG_FILE);
    } catch (err) {
      problems.push({ variable: "PLAN_CATALOG_FILE", reason: err instanceof Error ? err.message : String(err) });
    }
  }
  if (problems.length) throw new ConfigError(problems);

  const publicUrl = (e.PUBLIC_URL ?? `http://127.0.0.1:${e.PORT}`).replace(/\/$/, "");
  return {
    ...e,
    STEWARD_MODE: mode,
    DEMO_SEED: demo && e.DEMO_SEED,
    DIRECTORY_URL: e.DIRECTORY_URL ?? (demo && e.DIRECTORY_PROVIDER === "http" ? `http://localhost:${e.DEMO_PRODUCT_PORT}` : undefined),
    DIRECTORY_AUDIENCE: e.DIRECTORY_AUDIENCE ?? (demo && e.DIRECTORY_PROVIDER === "http" ? "prd_demo" : undefined),
    SESSION_SECRET: e.SESSION_SECRET ?? DEMO_SESSION_SECRET,
    demo,
    database: e.DATABASE_URL ? { kind: "postgres", url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE } : { kind: "pglite", dataDir: e.DATA_DIR },
    databaseLimits: { statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS, lockTimeoutMs: e.DATABASE_LOCK_TIMEOUT_MS, connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS },
    publicUrl,
    trustProxy: trustProxyOf(e.TRUST_PROXY),
    planCatalog,
    zendeskIssuer: e.ZENDESK_SUBDOMAIN ? `https://${e.ZENDESK_SUBDOMAIN}.zendesk.com` : demo ? "https://steward-demo.zendesk.com" : undefined,
    // Demo mode writes notes to the local Zendesk page, which serves the same paths.
    zendeskApiUrl: (e.ZENDESK_API_URL ?? (demo ? `${publicUrl}/zendesk/api/v2` : e.ZENDESK_SUBDOMAIN ? `https://${e.ZENDESK_SUBDOMAIN}.zendesk.com/api/v2` : undefined))?.replace(/\/$/, ""),
  };
}

function trustProxyOf(value: string): boolean | number | string | string[] {
  if (value === "false") return false;
  if (/^[0-9]{1,2}$/.test(value)) return Number(value);
  return value.includes(",") ? value.split(",").map((v) => v.trim()) : value;
}

/**
 * Entry points read `./.env` (or the file ENV_FILE names) when it exists; variables already set in the
 * environment win, as with Node's --env-file. Returns the file read, if any.
 */
export function loadEnvFile(env: NodeJS.ProcessEnv = process.env): string | null {
  const file = env.ENV_FILE || ".env";
  if (!existsSync(file)) {
    if (env.ENV_FILE) throw new ConfigError([{ variable: "ENV_FILE", reason: `no such file: ${file}` }]);
    return null;
  }
  process.loadEnvFile(file);
  return file;
}

/** For entry points (server, CLI): loads .env, then a bad configuration prints its one line and exits 1. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env, options: LoadConfigOptions = {}): Config {
  try {
    if (env === process.env) loadEnvFile(env);
    return loadConfig(env, options);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.line}\n`);
      process.exit(1);
    }
    throw err;
  }
}
