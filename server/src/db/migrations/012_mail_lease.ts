import { sql, type Kysely } from "kysely";

/**
 * A delivery attempt holds a lease on its mail: `lease_token` names the attempt (set at claim,
 * cleared when its result is recorded) and `next_attempt_at` is when the lease runs out. A mail
 * claimed again while a token is still set had an attempt that never finished: the SMTP server may
 * have accepted it, so the new attempt is audited as following an unknown outcome.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`alter table mail_outbox add column lease_token text`).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`alter table mail_outbox drop column if exists lease_token`).execute(db);
}
