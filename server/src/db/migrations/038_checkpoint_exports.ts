import { sql, type Kysely } from "kysely";

/**
 * How far each checkpoint sink has been given the signed checkpoints (audit/checkpointExport.ts). The sealer
 * used to keep this in its own memory: a process that stopped with checkpoints not yet exported (a sink
 * that was down) lost all but the newest, and a sink that failed held up sealing itself. One row per sink
 * (`dir:<path>` or `url:<address>`), read by every process, with a short lease so two processes do not
 * send the same checkpoints at once. Like audit_seal_state it is updatable: tampering with it can only
 * re-send checkpoints or hold them back, which the auditor sees as checkpoints missing at the sink.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table audit_checkpoint_export (
    sink text primary key,
    exported_through bigint not null check (exported_through >= 0),
    lease_until timestamptz,
    lease_token text,
    updated_at timestamptz not null
  )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists audit_checkpoint_export`.execute(db);
}
