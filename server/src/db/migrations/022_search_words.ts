import { sql, type Kysely } from "kysely";

/**
 * Which rows hold a given word, as a btree (source, term, id): a single-word lookup reads a short index
 * range and stops at its LIMIT. The words GIN indexes of 004 must build a bitmap of every matching row
 * before any LIMIT applies — 50,000 rows for a common surname at 100k accounts × 10 users — so search
 * uses this table for one-word queries and keeps the GIN indexes for several words (where intersecting
 * bitmaps is what GIN does well). Same SQL on PGlite and PostgreSQL.
 *
 * Sources: un = users.name, ue = users.email, an = accounts.name, ad = accounts.domain.
 * Kept by statement-level triggers from transition tables: one statement per batch however large.
 */

const wordsOf = (rows: string, table: "users" | "accounts") =>
  table === "users"
    ? `select 'un' as source, t as term, id from ${rows}, unnest(steward_words(name)) as t
       union select 'ue', t, id from ${rows}, unnest(steward_words(email)) as t`
    : `select 'an' as source, t as term, id from ${rows}, unnest(steward_words(name)) as t
       union select 'ad', t, id from ${rows}, unnest(coalesce(steward_words(domain), '{}')) as t`;

function triggerFunction(own: string): string {
  const branch = (table: "users" | "accounts") => `
        if tg_op in ('UPDATE', 'DELETE') then
          delete from search_words w using (${wordsOf("old_rows", table)}) o
            where w.source = o.source and w.term = o.term and w.id = o.id;
        end if;
        if tg_op in ('INSERT', 'UPDATE') then
          insert into search_words (source, term, id) select * from (${wordsOf("new_rows", table)}) n order by 1, 2, 3 on conflict do nothing;
        end if;`;
  return `create or replace function ${own}.steward_index_search_words() returns trigger
    language plpgsql
    set search_path = ${own}, pg_catalog
    as $$
    begin
      if tg_table_name = 'users' then ${branch("users")}
      else ${branch("accounts")}
      end if;
      return null;
    end $$`;
}

const triggers = ["users", "accounts"].flatMap((table) => [
  `create trigger ${table}_search_words_insert after insert on ${table} referencing new table as new_rows for each statement execute function steward_index_search_words()`,
  `create trigger ${table}_search_words_update after update on ${table} referencing old table as old_rows new table as new_rows for each statement execute function steward_index_search_words()`,
  `create trigger ${table}_search_words_delete after delete on ${table} referencing old table as old_rows for each statement execute function steward_index_search_words()`,
]);

/**
 * Search's GIN indexes (004) without a pending list: with fastupdate, new entries wait in an unsorted list
 * (up to 4 MB) that every search scans whole until a vacuum merges it — after a bulk load the vocabulary
 * lookup read 454 pages instead of 19. Rows are written far less often than searched.
 */
const GIN_INDEXES = ["search_terms_trgm_idx", "users_search_name_words_idx", "users_search_email_words_idx", "accounts_search_name_words_idx", "accounts_search_domain_words_idx"];

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

export async function up(db: Kysely<unknown>): Promise<void> {
  const own = quote((await sql<{ own: string }>`select current_schema() as own`.execute(db)).rows[0]?.own ?? "public");
  await sql.raw(`create table search_words (source text not null, term text not null, id text not null, primary key (source, term, id))`).execute(db);
  await sql.raw(triggerFunction(own)).execute(db);
  for (const statement of triggers) await sql.raw(statement).execute(db);
  // Rows that existed before this migration.
  await sql.raw(`insert into search_words (source, term, id) ${wordsOf("users", "users")} union ${wordsOf("accounts", "accounts")} on conflict do nothing`).execute(db);
  for (const index of GIN_INDEXES) {
    await sql.raw(`alter index ${index} set (fastupdate = off)`).execute(db);
    // Turning it off keeps what is already pending: merge that now.
    await sql.raw(`select gin_clean_pending_list('${index}'::regclass)`).execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const index of GIN_INDEXES) await sql.raw(`alter index if exists ${index} reset (fastupdate)`).execute(db);
  for (const statement of triggers) {
    const [, name, table] = /create trigger (\w+) after \w+ on (\w+)/.exec(statement) ?? [];
    if (name && table) await sql.raw(`drop trigger if exists ${name} on ${table}`).execute(db);
  }
  await sql.raw(`drop function if exists steward_index_search_words()`).execute(db);
  await sql.raw(`drop table if exists search_words`).execute(db);
}
