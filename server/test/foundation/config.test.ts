import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ConfigError, DEMO_SESSION_SECRET, loadConfig } from "../../src/config.js";
import { PRODUCTION_SETTINGS } from "../support/testConfig.js";

function problemsOf(env: Record<string, string>): { variable: string; reason: string }[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("configuration", () => {
  it("defaults to demo mode on the embedded database", () => {
    const config = loadConfig({});
    expect(config.demo).toBe(true);
    expect(config.database).toEqual({ kind: "pglite", dataDir: "./data" });
    expect(config.PORT).toBe(3000);
    expect(config.IDENTITY_PROVIDER).toBe("builtin");
    expect(config.BILLING_PROVIDER).toBe("builtin");
  });

  it("uses PostgreSQL when DATABASE_URL is set", () => {
    const config = loadConfig({ STEWARD_MODE: "demo", DATABASE_URL: "postgres://steward@db:5432/steward" });
    expect(config.database).toEqual({ kind: "postgres", url: "postgres://steward@db:5432/steward", poolSize: 10 });
  });

  it("never guesses demo mode when production settings are present", () => {
    for (const variable of ["DATABASE_URL", "ZENDESK_SUBDOMAIN", "ZAF_APP_PUBLIC_KEY", "ZAF_APP_PUBLIC_KEY_FILE", "ZAF_INSTALLATION_ID", "SESSION_SECRET"]) {
      const value = variable === "DATABASE_URL" ? "postgres://steward@db/steward" : variable === "SESSION_SECRET" ? "x".repeat(40) : variable === "ZENDESK_SUBDOMAIN" ? "acme" : "1";
      const problems = problemsOf({ [variable]: value });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({ variable: "STEWARD_MODE", reason: expect.stringContaining(variable) });
    }
    // Said explicitly, either mode is taken as asked.
    expect(loadConfig({ STEWARD_MODE: "demo", ZENDESK_SUBDOMAIN: "acme" }).demo).toBe(true);
  });

  it("keeps demo mode on loopback", () => {
    expect(problemsOf({ HOST: "0.0.0.0" })).toEqual([{ variable: "HOST", reason: expect.stringContaining("loopback only") }]);
    expect(problemsOf({ STEWARD_MODE: "demo", HOST: "10.1.2.3" })[0]?.variable).toBe("HOST");
    for (const host of ["127.0.0.1", "::1", "localhost"]) expect(loadConfig({ HOST: host }).HOST).toBe(host);
  });

  it("names the variable and what it expects", () => {
    expect(problemsOf({ PORT: "abc" })).toEqual([{ variable: "PORT", reason: 'expected a port number (got "abc")' }]);
    expect(problemsOf({ PORT: "70000" })[0]?.variable).toBe("PORT");
    // A number out of range names its bound; only text that is no number reads "expected a number".
    expect(problemsOf({ PROVIDER_MAX_RETRIES: "11" })).toEqual([{ variable: "PROVIDER_MAX_RETRIES", reason: expect.stringMatching(/<=\s*10 \(got "11"\)$/) }]);
    expect(problemsOf({ TICKET_CACHE_SECONDS: "-1" })).toEqual([{ variable: "TICKET_CACHE_SECONDS", reason: expect.stringMatching(/>=\s*0 \(got "-1"\)$/) }]);
    expect(problemsOf({ TARGET_LEASE_WAIT_MS: "1.5" })).toEqual([{ variable: "TARGET_LEASE_WAIT_MS", reason: 'expected a whole number (got "1.5")' }]);
    expect(problemsOf({ PROVIDER_MAX_RETRIES: "two" })).toEqual([{ variable: "PROVIDER_MAX_RETRIES", reason: 'expected a number (got "two")' }]);
    expect(problemsOf({ DATABASE_URL: "mysql://x" })[0]).toMatchObject({ variable: "DATABASE_URL", reason: expect.stringContaining("postgres://") });
    expect(problemsOf({ IDENTITY_PROVIDER: "auth0" }).map((p) => p.variable)).toEqual(["AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET"]);
    expect(problemsOf({ BILLING_PROVIDER: "paypal" })[0]?.variable).toBe("BILLING_PROVIDER");
  });

  it("refuses console working hours that do not end after they start within one day", () => {
    // Read as outside when minute >= end or < start, a range past midnight made every write "outside hours".
    for (const hours of ["mon-fri 22:00-06:00 UTC", "mon-fri 08:00-08:00 UTC", "mon-fri 08:00-24:30 UTC"]) {
      expect(problemsOf({ CONSOLE_WORKING_HOURS: hours }), hours).toEqual([{ variable: "CONSOLE_WORKING_HOURS", reason: expect.stringContaining("end after they start") }]);
    }
    expect(loadConfig({ CONSOLE_WORKING_HOURS: "sat-sun 00:00-24:00 Europe/Berlin" }).CONSOLE_WORKING_HOURS).toBe("sat-sun 00:00-24:00 Europe/Berlin");
  });

  it("production mode refuses demo-only settings and requires its trust anchors", () => {
    const vars = problemsOf({ STEWARD_MODE: "production", DEMO_SEED: "true", SESSION_SECRET: DEMO_SESSION_SECRET }).map((p) => p.variable);
    expect(vars).toEqual(expect.arrayContaining(["DATABASE_URL", "SESSION_SECRET", "ZENDESK_SUBDOMAIN", "ZAF_APP_PUBLIC_KEY", "ZAF_INSTALLATION_ID", "PUBLIC_URL", "MAIL_SECRET_KEY", "DEMO_SEED", "AUDIT_SEAL_KEY", "ZENDESK_API_EMAIL", "ZENDESK_API_TOKEN"]));
    const okEnv = { ...PRODUCTION_SETTINGS, DATABASE_URL: "postgres://steward@db/steward", ZAF_APP_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----" };
    const ok = loadConfig(okEnv);
    expect(ok.demo).toBe(false);
    expect(ok.DEMO_SEED).toBe(false);
    // Production serves Zendesk over https only: a plain http PUBLIC_URL is refused, naming it.
    expect(problemsOf({ ...okEnv, PUBLIC_URL: "http://steward.acme.test" })).toEqual([{ variable: "PUBLIC_URL", reason: expect.stringContaining("expected an https:// URL") }]);
    // Built-in identity mails reset links (with their token) to PRODUCT_RESET_URL: never the example's page
    // (the default, and the value .env.example writes), never plain http.
    const { PRODUCT_RESET_URL: _, ...withoutResetPage } = okEnv;
    expect(problemsOf(withoutResetPage)).toEqual([{ variable: "PRODUCT_RESET_URL", reason: expect.stringContaining("app.example.com is only the example") }]);
    expect(problemsOf({ ...okEnv, PRODUCT_RESET_URL: "https://app.example.com/reset-password" }).map((p) => p.variable)).toEqual(["PRODUCT_RESET_URL"]);
    expect(problemsOf({ ...okEnv, PRODUCT_RESET_URL: "http://app.acme.test/reset" })).toEqual([{ variable: "PRODUCT_RESET_URL", reason: expect.stringContaining("expected an https:// URL") }]);
    // With Auth0 the page is Auth0's: the setting is not read.
    expect(loadConfig({ ...withoutResetPage, IDENTITY_PROVIDER: "auth0", AUTH0_DOMAIN: "acme.eu.auth0.com", AUTH0_CLIENT_ID: "id", AUTH0_CLIENT_SECRET: "secret" }).demo).toBe(false);
    expect(ok.zendeskIssuer).toBe("https://acme.zendesk.com");
  });

  it("stops start-up with one line naming the variable", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "server/src/main.ts"], {
      env: { ...process.env, PORT: "abc", DATA_DIR: "/nonexistent/never-created" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split("\n").filter((l) => !l.includes("nodedir"));
    expect(lines).toEqual(['Steward cannot start: invalid configuration: PORT: expected a port number (got "abc")']);
  });

  it("stops start-up with one line naming STEWARD_MODE when production settings come without it", () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: "postgres://postgres@127.0.0.1:5432/never_created", ZENDESK_SUBDOMAIN: "acme", DATA_DIR: "/nonexistent/never-created" };
    delete env.STEWARD_MODE;
    const run = spawnSync(process.execPath, ["--import", "tsx", "server/src/main.ts"], { env, encoding: "utf8", timeout: 30_000 });
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split("\n").filter((l) => !l.includes("nodedir"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Steward cannot start: invalid configuration: STEWARD_MODE: not set, but DATABASE_URL, ZENDESK_SUBDOMAIN are/);
  });
});
