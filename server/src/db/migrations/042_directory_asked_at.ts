import { sql, type Kysely } from "kysely";

/**
 * DIRECTORY_PROVIDER=http: when the product's answer that last wrote a cached account or user was asked
 * (the request's send time, Steward's clock). An answer asked earlier than the row's may not overwrite it:
 * two reads in flight at once can land out of order, and the product's own versions cannot decide it (they
 * may go backwards, after a restore). Null: never written by an answer (the built-in directory, or older rows).
 */
const statements = [`alter table accounts add column directory_asked_at timestamptz`, `alter table users add column directory_asked_at timestamptz`];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of [`alter table users drop column directory_asked_at`, `alter table accounts drop column directory_asked_at`]) await sql.raw(statement).execute(db);
}
