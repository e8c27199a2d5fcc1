import { sql, type Kysely } from "kysely";

/**
 * Search over users and accounts (see server/src/lookup/searchBranches.ts). Same SQL on PGlite and
 * PostgreSQL:
 * - steward_fold(): lower case without accents, the form every search expression compares;
 * - text_pattern_ops btrees for exact and starts-with matches on emails, names, ids and domains;
 * - steward_words() GIN indexes: rows holding a given word (a surname, a company word) in one key;
 * - search_terms: every distinct word of names, emails and domains, trigram-indexed. Misspellings and
 *   fragments are matched against this small vocabulary first, then rows by word — trigram scans of
 *   whole rows would recheck tens of thousands of near-misses when a name is common.
 */

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Bodies name their schemas: PostgreSQL 17 runs index builds with search_path = pg_catalog. */
function functions(extensionSchema: string, ownSchema: string): string[] {
  const ext = quote(extensionSchema);
  const own = quote(ownSchema);
  return [
    // unaccent() is only STABLE (its dictionary could change); pinning the dictionary lets indexes use it.
    `create or replace function ${own}.steward_unaccent(text) returns text
      language sql immutable parallel safe strict
      as $$ select ${ext}.unaccent('${ext}.unaccent'::regdictionary, $1) $$`,
    // "Zoë" and "ZOE" both become "zoe".
    `create or replace function ${own}.steward_fold(text) returns text
      language sql immutable parallel safe strict
      as $$ select pg_catalog.lower(${own}.steward_unaccent($1)) $$`,
    // "Zoë Müller-Smith" → {zoe,muller,smith}; "ana.lima2@acme.example" → {ana,lima2,acme,example}.
    // plpgsql is never inlined, so its high COST stands: the planner must not pick a scan that splits every row.
    `create or replace function ${own}.steward_words(text) returns text[]
      language plpgsql immutable parallel safe strict cost 1000
      as $$ begin return pg_catalog.array_remove(pg_catalog.regexp_split_to_array(${own}.steward_fold($1), '[^[:alnum:]]+'), ''); end $$`,
    // Statement-level, from the transition table: one insert per batch however many rows it has.
    `create or replace function ${own}.steward_collect_search_terms() returns trigger
      language plpgsql
      set search_path = ${own}, pg_catalog
      as $$
      begin
        if tg_table_name = 'users' then
          insert into search_terms (term)
            select distinct t from changed_rows, unnest(steward_words(name) || steward_words(email)) as t
            where length(t) >= 2 order by 1 on conflict do nothing;
        else
          insert into search_terms (term)
            select distinct t from changed_rows, unnest(steward_words(name) || coalesce(steward_words(domain), '{}')) as t
            where length(t) >= 2 order by 1 on conflict do nothing;
        end if;
        return null;
      end $$`,
  ];
}

const indexes = [
  `create index users_search_email_idx on users (steward_fold(email) text_pattern_ops)`,
  `create index users_search_email_words_idx on users using gin (steward_words(email))`,
  `create index users_search_name_idx on users (steward_fold(name) text_pattern_ops)`,
  `create index users_search_name_words_idx on users using gin (steward_words(name))`,
  `create index users_search_id_idx on users (lower(id) text_pattern_ops)`,
  `create index users_search_idp_id_idx on users (lower(idp_id) text_pattern_ops)`,
  `create index accounts_search_name_idx on accounts (steward_fold(name) text_pattern_ops)`,
  `create index accounts_search_name_words_idx on accounts using gin (steward_words(name))`,
  `create index accounts_search_domain_idx on accounts (steward_fold(domain) text_pattern_ops)`,
  `create index accounts_search_domain_words_idx on accounts using gin (steward_words(domain))`,
  `create index accounts_search_id_idx on accounts (lower(id) text_pattern_ops)`,
  `create index accounts_search_customer_idx on accounts (lower(billing_customer_id) text_pattern_ops)`,
];

const vocabulary = [
  `create table search_terms (term text primary key)`,
  `create index search_terms_trgm_idx on search_terms using gin (term gin_trgm_ops)`,
  // Transition tables allow one event per trigger, hence two triggers per table.
  `create trigger users_search_terms_insert after insert on users referencing new table as changed_rows for each statement execute function steward_collect_search_terms()`,
  `create trigger users_search_terms_update after update on users referencing new table as changed_rows for each statement execute function steward_collect_search_terms()`,
  `create trigger accounts_search_terms_insert after insert on accounts referencing new table as changed_rows for each statement execute function steward_collect_search_terms()`,
  `create trigger accounts_search_terms_update after update on accounts referencing new table as changed_rows for each statement execute function steward_collect_search_terms()`,
  // Rows that existed before this migration.
  `insert into search_terms (term)
    select distinct t from users, unnest(steward_words(name) || steward_words(email)) as t where length(t) >= 2
    union select distinct t from accounts, unnest(steward_words(name) || coalesce(steward_words(domain), '{}')) as t where length(t) >= 2
    on conflict do nothing`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  // 001 created the extensions; find where they live rather than assume "public".
  const found = await sql<{ ext: string | null; own: string }>`
    select (select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'unaccent') as ext,
      current_schema() as own`.execute(db);
  const { ext, own } = found.rows[0] ?? { ext: null, own: "public" };
  if (!ext) throw new Error("the unaccent extension is missing (migration 001 creates it)");
  for (const statement of [...functions(ext, own), ...indexes, ...vocabulary]) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const [table, trigger] of [["users", "users_search_terms_insert"], ["users", "users_search_terms_update"], ["accounts", "accounts_search_terms_insert"], ["accounts", "accounts_search_terms_update"]]) {
    await sql.raw(`drop trigger if exists ${trigger} on ${table}`).execute(db);
  }
  await sql.raw(`drop table if exists search_terms`).execute(db);
  for (const statement of indexes) {
    const name = /create index (\w+)/.exec(statement)?.[1];
    if (name) await sql.raw(`drop index if exists ${name}`).execute(db);
  }
  for (const fn of ["steward_collect_search_terms()", "steward_words(text)", "steward_fold(text)", "steward_unaccent(text)"]) {
    await sql.raw(`drop function if exists ${fn}`).execute(db);
  }
}
