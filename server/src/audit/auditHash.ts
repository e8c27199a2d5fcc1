import { createHash } from "node:crypto";
import type { AuditEntry } from "../../../shared/audit.js";

/** The prev_hash of the first entry. */
export const GENESIS_HASH = "0".repeat(64);

/** Bumped if the serialisation ever changes, so old and new entries can never hash alike. */
const HASH_DOMAIN = "steward-audit-v1\n";

export type HashedFields = Omit<AuditEntry, "hash">;

/** Plain JSON values only (what jsonb stores and gives back): keys sorted at every level. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    // JSON.stringify maps undefined/functions to undefined; they cannot occur after jsonValue().
    return JSON.stringify(value) ?? "null";
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(",")}}`;
}

/** The value as jsonb will return it (dates → ISO strings, undefined dropped), or null. */
export function jsonValue(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

export function hashAuditEntry(fields: HashedFields): string {
  const { hash: _excluded, ...hashed } = fields as HashedFields & { hash?: string };
  return createHash("sha256").update(HASH_DOMAIN).update(canonicalJson(hashed)).digest("hex");
}
