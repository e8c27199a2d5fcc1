import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { fieldReasonCode, fieldReasonCodes } from "../../shared/problem.js";
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

  it.each([
    ["en", en as Record<string, string>],
    ["de", de as Record<string, string>],
  ])("has %s words for every field error code (a 400's per-field reasons), with the bounds each code carries", (_lang, catalog) => {
    expect(fieldReasonCodes.filter((code) => !catalog[`field.invalid.${code}`])).toEqual([]);
    // The words use exactly the params the server sends with that code.
    const schema = z.object({ s: z.string().min(3).max(5), n: z.number().int().min(1).max(9), p: z.number().positive(), l: z.number().lt(10), a: z.array(z.string()).min(1).max(2), e: z.enum(["x", "y"]), m: z.email(), r: z.string(), k: z.number().multipleOf(5) }).strict();
    const inputs = [
      { s: "ab", n: 0, p: 0, l: 10, a: [], e: "q", m: "no", k: 7, extra: 1 },
      { s: "abcdef", n: 10, p: 1, l: 1, a: ["1", "2", "3"], e: "x", m: "a@b.co", r: 5, k: 5 },
      { s: "abc", n: 1.5, p: 1, l: 1, a: ["1"], e: "x", m: "a@b.co", r: "", k: 5 },
    ];
    const seen = new Map<string, string[]>();
    for (const input of inputs) {
      for (const issue of schema.safeParse(input).error?.issues ?? []) {
        const path = issue.path[0];
        const { code, params } = fieldReasonCode(issue, path !== undefined && (input as Record<PropertyKey, unknown>)[path] === undefined);
        seen.set(code, Object.keys(params).sort());
      }
    }
    for (const [code, params] of seen) {
      const words = catalog[`field.invalid.${code}`] ?? "";
      expect([...words.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort(), `${code}: ${words}`).toEqual(params);
    }
    expect([...seen.keys()].sort()).toEqual(expect.arrayContaining(["required", "too_small_string", "too_big_string", "too_small_number", "too_big_number", "too_small_number_exclusive", "too_big_number_exclusive", "too_small_array", "too_big_array", "invalid_value", "invalid_format_email", "unrecognized_keys", "invalid_type_int", "invalid_type", "not_multiple_of"]));
  });

  it("says locked, blocked and suspended with different words in every language", () => {
    for (const catalog of [en, de] as Record<string, string>[]) {
      const words = ["badge.locked", "badge.blocked", "status.suspended"].map((k) => catalog[k]?.toLowerCase());
      expect(new Set(words).size).toBe(3);
    }
  });
});
