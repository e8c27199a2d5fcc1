import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ConfigError, DEMO_SESSION_SECRET, loadConfig } from "../../src/config.js";

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
    const config = loadConfig({ DATABASE_URL: "postgres://steward@db:5432/steward" });
    expect(config.database).toEqual({ kind: "postgres", url: "postgres://steward@db:5432/steward", poolSize: 10 });
  });

  it("names the variable and what it expects", () => {
    expect(problemsOf({ PORT: "abc" })).toEqual([{ variable: "PORT", reason: 'expected a port number (got "abc")' }]);
    expect(problemsOf({ PORT: "70000" })[0]?.variable).toBe("PORT");
    expect(problemsOf({ DATABASE_URL: "mysql://x" })[0]).toMatchObject({ variable: "DATABASE_URL", reason: expect.stringContaining("postgres://") });
    expect(problemsOf({ IDENTITY_PROVIDER: "auth0" }).map((p) => p.variable)).toEqual(["AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET"]);
    expect(problemsOf({ BILLING_PROVIDER: "paypal" })[0]?.variable).toBe("BILLING_PROVIDER");
  });

  it("production mode refuses demo-only settings and requires its trust anchors", () => {
    const vars = problemsOf({ STEWARD_MODE: "production", DEMO_SEED: "true", SESSION_SECRET: DEMO_SESSION_SECRET }).map((p) => p.variable);
    expect(vars).toEqual(expect.arrayContaining(["DATABASE_URL", "SESSION_SECRET", "ZENDESK_SUBDOMAIN", "ZAF_APP_PUBLIC_KEY", "ZAF_INSTALLATION_ID", "PUBLIC_URL", "DEMO_SEED", "AUDIT_SEAL_KEY"]));
    const ok = loadConfig({
      STEWARD_MODE: "production",
      DATABASE_URL: "postgres://steward@db/steward",
      SESSION_SECRET: "x".repeat(40),
      ZENDESK_SUBDOMAIN: "acme",
      ZAF_APP_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----",
      ZAF_INSTALLATION_ID: "123",
      PUBLIC_URL: "https://steward.acme.test",
      AUDIT_SEAL_KEY: "ab".repeat(32),
    });
    expect(ok.demo).toBe(false);
    expect(ok.DEMO_SEED).toBe(false);
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
});
