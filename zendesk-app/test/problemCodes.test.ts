import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { approvalStatuses } from "../../shared/schemas/approval.js";
import { tokenFailures } from "../../server/src/auth/tokenErrors.js";
import de from "../translations/de.json";
import en from "../translations/en.json";

/**
 * Every problem code the server can answer has words in every sidebar language, so a refusal never
 * reaches a German agent in English. The codes are read from the server's source (every way it builds
 * a Problem), so a new code without a translation fails here.
 */
const SERVER = join(import.meta.dirname, "../../server/src");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}

const PATTERNS = [
  /Problem\.(?:conflict|forbidden|unauthorized|unavailable)\(\s*"([a-z_]+)"/g,
  /new Problem\(\s*[^,()]+,\s*"([a-z_]+)"/g,
  /\brefused\(\s*"([a-z_]+)"/g,
  /code: "((?:provider|outcome)_[a-z_]+)"/g,
];

/** Codes built from a prefix and a value (`session_${this.code}`): the prefix as written in the source. */
const BUILT = /(?:Problem\.(?:conflict|forbidden|unauthorized|unavailable)\(|new Problem\(\s*[^,()]+,)\s*`([a-z_]+)\$\{/g;

/** Every value each built code's prefix is completed with (the failure and status types the server uses there). */
const COMPLETIONS: Record<string, readonly string[]> = {
  session_: [...tokenFailures, "missing", "too_old"], // SessionFailure
  zaf_token_: tokenFailures.filter((f) => f !== "wrong_type"), // ZafTokenFailure
  grant_: [...tokenFailures, "unknown_key", "replayed"], // GrantFailure
  approval_: approvalStatuses.filter((s) => s !== "pending"), // a decided request (decided())
};

function serverProblemCodes(): { codes: string[]; prefixes: string[] } {
  const codes = new Set<string>();
  const prefixes = new Set<string>();
  for (const file of sources(SERVER)) {
    const text = readFileSync(file, "utf8");
    for (const pattern of PATTERNS) for (const match of text.matchAll(pattern)) codes.add(match[1] as string);
    for (const match of text.matchAll(BUILT)) prefixes.add(match[1] as string);
  }
  for (const prefix of prefixes) for (const value of COMPLETIONS[prefix] ?? []) codes.add(`${prefix}${value}`);
  return { codes: [...codes].sort(), prefixes: [...prefixes].sort() };
}

describe("problem codes", () => {
  const { codes, prefixes } = serverProblemCodes();

  it("knows how every code built from a prefix is completed (a new one fails here until it is listed)", () => {
    expect(prefixes).toEqual(Object.keys(COMPLETIONS).sort());
  });

  it("finds the server's codes (the scan itself works)", () => {
    for (const known of ["invalid_transition", "over_cap", "stale_version", "outcome_unknown", "outcome_pending", "provider_timeout", "account_closed", "target_protected", "not_found", "invalid_request", "rate_limited", "session_expired", "zaf_token_bad_signature", "approval_rejected"]) expect(codes).toContain(known);
  });

  it.each([
    ["en", en as Record<string, string>],
    ["de", de as Record<string, string>],
  ])("has a %s translation for every code", (_lang, catalog) => {
    const missing = codes.filter((code) => !catalog[`problem.${code}`]);
    expect(missing).toEqual([]);
  });

  it("says locked, blocked and suspended with different words in every language", () => {
    for (const catalog of [en, de] as Record<string, string>[]) {
      const words = ["badge.locked", "badge.blocked", "status.suspended"].map((k) => catalog[k]?.toLowerCase());
      expect(new Set(words).size).toBe(3);
    }
  });
});
