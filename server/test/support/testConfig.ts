import { loadConfig, type Config } from "../../src/config.js";
import { TEST_RATE_LIMITS } from "./rateLimits.js";

/**
 * The fixed audit secret every test uses (auditKeys.ts derives and installs the keys). Kept apart from the
 * database helpers so that unit tests of tokens and hashes import no database or app code: the mutation run
 * re-imports a test file's whole module graph for every mutant, so a light graph is most of its speed.
 */
export const TEST_AUDIT_SECRET = "5eed".repeat(16);

export function testConfig(env: Record<string, string> = {}): Config {
  // Tests are demo-mode unless they say otherwise (production-like settings need an explicit mode).
  return loadConfig({ STEWARD_MODE: "demo", LOG_LEVEL: "silent", DEMO_SEED: "false", AUDIT_SEAL_KEY: TEST_AUDIT_SECRET, ...TEST_RATE_LIMITS, ...env });
}

/**
 * Every setting production mode requires, as an operator's environment holds them (the database and the ZAF
 * key are each test's own: add DATABASE_URL and ZAF_APP_PUBLIC_KEY or its file).
 */
export const PRODUCTION_SETTINGS = {
  STEWARD_MODE: "production",
  SESSION_SECRET: "s".repeat(48),
  ZENDESK_SUBDOMAIN: "acme",
  ZAF_INSTALLATION_ID: "123456",
  PUBLIC_URL: "https://steward.example.com",
  MAIL_SECRET_KEY: "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
  AUDIT_SEAL_KEY: "ab".repeat(32),
  ZENDESK_API_EMAIL: "steward@acme.test",
  ZENDESK_API_TOKEN: "zendesk-api-token",
  PRODUCT_RESET_URL: "https://app.acme.test/reset-password",
} as const;
