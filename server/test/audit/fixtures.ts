import { sql, type Kysely } from "kysely";
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
