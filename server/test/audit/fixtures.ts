import { createHash } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { AuditEntry } from "../../../shared/audit.js";
import type { StaffActor } from "../../src/actor.js";
import type { AuditInput } from "../../src/audit/auditLog.js";
import type { DB } from "../../src/db/schema.js";

/** Databases (PGlite is WASM) start slowly on the shared 2-core machines; hooks get longer than the default. */
export const HOOK_TIMEOUT = 240_000;

export function agent(n: number, panelRole: StaffActor["panelRole"] = "support_full"): StaffActor {
  return { kind: "staff", staffId: `stf_test_${n}`, zendeskUserId: String(7000 + n), email: `Agent${n}@Example.test`, name: `Agent ${n}`, panelRole };
}

/** A plausible write entry; override what a test cares about. */
export function writeEntry(overrides: Partial<AuditInput> = {}): AuditInput {
  return {
    actor: agent(1),
    action: "user.suspend",
    target: { type: "user", id: "usr_demo_001_1", accountId: "acc_demo_001" },
    ticketId: "1001",
    reason: "customer asked on the phone",
    before: { status: "active", version: 3 },
    after: { status: "suspended", version: 4 },
    outcome: "succeeded",
    ...overrides,
  };
}

/** Tampering "by other means": a superuser switches the append-only triggers off around `change`. */
export async function asSuperuser(db: Kysely<DB>, change: (db: Kysely<DB>) => Promise<unknown>): Promise<void> {
  await sql`alter table audit_log disable trigger all`.execute(db);
  try {
    await change(db);
  } finally {
    await sql`alter table audit_log enable trigger all`.execute(db);
  }
}

export async function seqs(db: Kysely<DB>): Promise<number[]> {
  const rows = await db.selectFrom("audit_log").select("seq").orderBy("seq").execute();
  return rows.map((r) => r.seq);
}

/** Keys sorted at every level, written out here rather than taken from the code under test. */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${sortedJson(record[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/** What an entry's hash must be, computed independently of auditHash.ts (see knownAnswers.test.ts for fixed values). */
export function expectedAuditHash(entry: AuditEntry): string {
  const { hash: _stored, ...hashed } = entry;
  return createHash("sha256").update(`steward-audit-v1\n${sortedJson(hashed)}`).digest("hex");
}
