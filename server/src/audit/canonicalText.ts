/**
 * The one canonical form of text in an audit entry. PostgreSQL cannot store NUL in text or jsonb, and
 * both databases store an unpaired UTF-16 surrogate as U+FFFD, so an entry hashed with either would
 * not hash the same once read back. Text Steward itself puts into an entry (provider error messages,
 * snapshots) passes through here before it is both stored and hashed; requests carrying such text are
 * refused at the edge instead (http/textGuard.ts).
 */

/** A high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const HAS_LONE_SURROGATE = new RegExp(LONE_SURROGATE.source);
const NUL = new RegExp(String.fromCharCode(0), "g");

export type TextFault = "nul" | "lone_surrogate";

/** Why a text cannot be stored as given, or null when it can. */
export function textFault(text: string): TextFault | null {
  if (text.includes("\u0000")) return "nul";
  if (HAS_LONE_SURROGATE.test(text)) return "lone_surrogate";
  return null;
}

/** Unpaired surrogates become U+FFFD (what the databases would store), NUL is removed. Idempotent. */
export function canonicalText(text: string): string {
  // Stryker disable next-line ConditionalExpression: the fast path for clean text (nearly all): the replacements would leave it unchanged
  if (textFault(text) === null) return text;
  return text.replace(LONE_SURROGATE, "\ufffd").replace(NUL, "");
}

/** A plain JSON value with every string and object key in canonical form (later duplicate keys win). */
export function canonicalJsonValue<T>(value: T): T {
  if (typeof value === "string") return canonicalText(value) as T;
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item: unknown) => canonicalJsonValue(item)) as T;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    // defineProperty, so a "__proto__" key stays a key (as JSON.parse and jsonb keep it).
    Object.defineProperty(out, canonicalText(key), { value: canonicalJsonValue(item), enumerable: true, writable: true, configurable: true });
  }
  return out as T;
}
