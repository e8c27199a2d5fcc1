import { sql, type Kysely } from "kysely";
import { expect } from "vitest";
import { verifyAuditChain } from "../../src/audit/verifyChain.js";
import type { Database } from "../../src/db/database.js";
import { TEST_AUDIT_KEYS as keys } from "../support/auditKeys.js";
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

const AUDIT_TABLES = ["audit_log", "audit_seal", "audit_checkpoint", "audit_verified"];

/**
 * Tampering "by other means": a superuser switches the append-only triggers off around `change` (on
 * audit_log this also switches off the trigger that stamps seq and tx, so inserts give their own).
 */
export async function asSuperuser(db: Kysely<DB>, change: (db: Kysely<DB>) => Promise<unknown>): Promise<void> {
  for (const table of AUDIT_TABLES) await sql.raw(`alter table ${table} disable trigger all`).execute(db);
  try {
    await change(db);
  } finally {
    for (const table of AUDIT_TABLES) await sql.raw(`alter table ${table} enable trigger all`).execute(db);
  }
}

/** Empties every audit table and restarts seq and the sealer's horizon: a fresh log for the next test. */
export async function resetAuditLog(db: Kysely<DB>): Promise<void> {
  await asSuperuser(db, async (su) => {
    for (const table of AUDIT_TABLES) await sql.raw(`delete from ${table}`).execute(su);
  });
  await sql`select setval('audit_log_seq', 1, false)`.execute(db);
  await sql`update audit_seal_state set horizon = '0', flagged_through = 0`.execute(db);
  // The console's stored flags and counts follow the chain (migration 035): they restart with it.
  await sql`delete from audit_flag`.execute(db);
  await sql`delete from audit_activity_day`.execute(db);
  await sql`delete from audit_staff_writes_quarter`.execute(db);
  // How far each checkpoint sink has got (migration 038): the checkpoints it counted are gone.
  await sql`delete from audit_checkpoint_export`.execute(db);
}

export async function sealCount(db: Kysely<DB>): Promise<number> {
  const row = await db.selectFrom("audit_seal").select(({ fn }) => fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function seqs(db: Kysely<DB>): Promise<number[]> {
  const rows = await db.selectFrom("audit_log").select("seq").orderBy("seq").execute();
  return rows.map((r) => r.seq);
}

/** Every committed entry sealed exactly once, at gap-free chain positions, and the chain verifies. */
export async function expectSealedOnce(database: Database, expected: number): Promise<void> {
  const seals = await database.db.selectFrom("audit_seal").select(["chain_seq", "entry_seq"]).orderBy("chain_seq").execute();
  const rows = await database.db.selectFrom("audit_log").select("seq").orderBy("seq").execute();
  expect(rows).toHaveLength(expected);
  expect(seals.map((s) => s.chain_seq)).toEqual(Array.from({ length: expected }, (_, i) => i + 1));
  expect(new Set(seals.map((s) => s.entry_seq)).size).toBe(expected);
  expect([...seals.map((s) => s.entry_seq)].sort((a, b) => a - b)).toEqual(rows.map((r) => r.seq));
  expect(await verifyAuditChain(database.db, keys, { mode: "full", record: false })).toMatchObject({ ok: true, entries: expected, unsealed: 0, breaks: [] });
}
