import { sql, type Kysely } from "kysely";

/**
 * DIRECTORY_PROVIDER=http: accounts and users become a read cache of the product's. Each row keeps the
 * product's own version of the object (sent back as expectedVersion, so the product refuses a stale
 * write), apart from Steward's `version` (the agent's stale check, bumped by Steward's own writes too).
 * Users also keep what only the product knows: its staff flag and the support-editable settings.
 * Null / empty with the built-in directory.
 */
const statements = [
  `alter table accounts add column directory_version integer`,
  `alter table users add column directory_version integer`,
  `alter table users add column directory_staff boolean not null default false`,
  `alter table users add column directory_settings jsonb not null default '{}'`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    `alter table users drop column directory_settings`,
    `alter table users drop column directory_staff`,
    `alter table users drop column directory_version`,
    `alter table accounts drop column directory_version`,
  ]) {
    await sql.raw(statement).execute(db);
  }
}
