import { createHash, createHmac } from "node:crypto";
import type { AuditEntry } from "../../../shared/audit.js";
import type { AuditKeys } from "./sealKey.js";

/** The prev_hash of the first sealed entry. */
export const GENESIS_HASH = "0".repeat(64);

// Domains are bumped if a serialisation ever changes, so old and new values can never collide.
const ENTRY_MAC_DOMAIN = "steward-audit-entry-v2\n";
const SEALED_ENTRY_DOMAIN = "steward-audit-sealed-entry-v2\n";
const LINK_DOMAIN = "steward-audit-link-v2\n";
const VERIFIED_DOMAIN = "steward-audit-verified-v2\n";

/**
 * What the appender MACs: everything the entry says, without the seq the database assigns. The ticket
 * snapshot and approval (migration 020) are optional here so code and fixtures from before them still type.
 */
export type EntryContent = Omit<AuditEntry, "seq" | "mac" | "seal" | "ticketSnapshot" | "approval"> & Partial<Pick<AuditEntry, "ticketSnapshot" | "approval">>;

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
  // JSON.stringify gives undefined for undefined (and functions, symbols), "null" for null: both end as null.
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

/**
 * The MACed content. A null ticket snapshot or approval is left out rather than written as null, so
 * entries from before migration 020 keep their MACs and seals; a value, once there, is covered.
 */
export function contentOf(entry: AuditEntry | EntryContent): EntryContent {
  const { id, occurredAt, actor, action, target, ticketId, reason, before, after, outcome, error, requestId, operationId, ticketSnapshot, approval } = entry;
  return {
    id, occurredAt, actor, action, target, ticketId, reason, before, after, outcome, error, requestId, operationId,
    ...(ticketSnapshot ? { ticketSnapshot } : {}),
    ...(approval ? { approval } : {}),
  };
}

/** The append-time MAC: only a holder of the audit key can write an entry that carries a valid one. */
export function entryMac(keys: Pick<AuditKeys, "entryKey">, content: EntryContent): string {
  return createHmac("sha256", keys.entryKey).update(ENTRY_MAC_DOMAIN).update(canonicalJson(contentOf(content))).digest("hex");
}

/** The sealer's hash of an entry exactly as read back from the database (content, seq and MAC). */
export function sealedEntryHash(entry: EntryContent & Pick<AuditEntry, "seq" | "mac">): string {
  return createHash("sha256").update(SEALED_ENTRY_DOMAIN).update(canonicalJson({ ...contentOf(entry), seq: entry.seq, mac: entry.mac })).digest("hex");
}

export interface LinkFields {
  chainSeq: number;
  prevHash: string;
  entrySeq: number;
  entryId: string;
  entryHash: string;
}

/** One link of the chain: a MAC, so rewriting and re-linking history needs the key the database never holds. */
export function chainLink(keys: Pick<AuditKeys, "chainKey">, link: LinkFields): string {
  return createHmac("sha256", keys.chainKey).update(`${LINK_DOMAIN}${link.chainSeq}\n${link.prevHash}\n${link.entrySeq}\n${link.entryId}\n${link.entryHash}`).digest("hex");
}

/** A verify's record that the chain was intact up to chainSeq; MACed so the database cannot claim one. */
export function verifiedMac(keys: Pick<AuditKeys, "chainKey">, mark: { chainSeq: number; headHash: string; verifiedAt: string }): string {
  return createHmac("sha256", keys.chainKey).update(`${VERIFIED_DOMAIN}${mark.chainSeq}\n${mark.headHash}\n${mark.verifiedAt}`).digest("hex");
}
