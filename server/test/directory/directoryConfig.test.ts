import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { createDirectoryPort } from "../../src/directory/index.js";
import { systemClock } from "../../src/clock.js";

/** DIRECTORY_PROVIDER: builtin by default; http needs the product's URL and audience, which demo mode defaults to the demo product. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => p.variable);
    throw err;
  }
  return [];
}

describe("DIRECTORY_PROVIDER", () => {
  it("is builtin unless set", () => {
    const config = loadConfig({});
    expect(config.DIRECTORY_PROVIDER).toBe("builtin");
    expect(createDirectoryPort({ config, db: null as never, clock: systemClock }).name).toBe("builtin");
  });

  it("refuses anything but builtin or http, naming the variable", () => {
    expect(problemsOf({ DIRECTORY_PROVIDER: "ldap" })).toEqual(["DIRECTORY_PROVIDER"]);
  });

  it("http outside demo mode needs DIRECTORY_URL and DIRECTORY_AUDIENCE", () => {
    const production = problemsOf({ STEWARD_MODE: "production", DIRECTORY_PROVIDER: "http" });
    expect(production).toEqual(expect.arrayContaining(["DIRECTORY_URL", "DIRECTORY_AUDIENCE"]));
    expect(problemsOf({ STEWARD_MODE: "production", DIRECTORY_PROVIDER: "http", DIRECTORY_URL: "https://app.example.com", DIRECTORY_AUDIENCE: "prd_app" })).not.toContain("DIRECTORY_URL");
    expect(problemsOf({ DIRECTORY_PROVIDER: "http", DIRECTORY_URL: "not a url" })).toEqual(["DIRECTORY_URL"]);
  });

  it("http in demo mode talks to the demo product beside Steward", () => {
    const config = loadConfig({ DIRECTORY_PROVIDER: "http", DEMO_PRODUCT_PORT: "3456", DATA_DIR: "memory" });
    expect(config).toMatchObject({ DIRECTORY_URL: "http://localhost:3456", DIRECTORY_AUDIENCE: "prd_demo" });
    expect(createDirectoryPort({ config, db: null as never, clock: systemClock }).name).toBe("http");
  });
});
