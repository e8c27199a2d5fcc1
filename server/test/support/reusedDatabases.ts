import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * For the mutation run only (STEWARD_TEST_REUSE_DATABASES=1, set by vitest.mutation.config.ts): a test
 * file's PostgreSQL database is handed back when it closes and, reset to the template's rows, serves the
 * next file, instead of a `create database … template` (0.8-1.7 s of server work on the shared machine)
 * per file per mutant. `npm test` never sets the variable: every file gets a fresh copy there.
 *
 * A database is only reused if its schema is still the template's (same relations, columns, defaults,
 * constraints, triggers and their enabled state, functions, database settings): a test that adds a
 * partition or drops a trigger costs a fresh copy, never a different starting point. Everything else a test
 * can change is data, which the reset puts back: every table emptied (triggers and foreign keys off for the
 * session, so the append-only audit tables can be emptied too), the template's own rows (the migration
 * record, the seal state…) restored, every sequence set back to the template's value.
 */

/** A reused database is dropped after this many files, so dead rows never pile up. */
const USES_PER_DATABASE = 100;

/** One kept worker thread per Stryker process at a time; its databases carry the process's token. */
const processToken = process.env.STEWARD_KEPT_THREAD_TOKEN ?? `${process.pid}`;
const namePrefix = (token: string): string => `steward_reuse_${token}_`;
const prefix = namePrefix(processToken);

interface Snapshot {
  fingerprint: string;
  tables: string[];
  rows: { table: string; json: string }[];
  sequences: { name: string; value: string; called: boolean }[];
}

interface ReuseState {
  template: string;
  cleared: Promise<void>;
  /** Taken from the first copy, never from the template itself: a connection to a template makes others' copies fail. */
  snapshot: Promise<Snapshot> | undefined;
  free: string[];
  uses: Map<string, number>;
}

const key = Symbol.for("steward.reusedDatabases");
type WithReuse = typeof globalThis & { [key]?: ReuseState };

/** What a test could change besides data. Text, so two snapshots compare as one string. */
const FINGERPRINT = `
  with facts(fact) as (
    select 'rel ' || c.relname || ' ' || c.relkind::text || ' ' || c.relispartition::text
      from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'
    union all
    select 'col ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text || ' ' || a.attgenerated::text || ' ' || a.attidentity::text || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
      from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where n.nspname = 'public' and a.attnum > 0 and not a.attisdropped
    union all
    select 'con ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
      from pg_constraint where connamespace = 'public'::regnamespace
    union all
    select 'trg ' || tgrelid::regclass::text || ' ' || tgname || ' ' || tgenabled::text || ' ' || tgfoid::regprocedure::text
      from pg_trigger t join pg_class c on c.oid = t.tgrelid where c.relnamespace = 'public'::regnamespace
    union all
    select 'fn ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc) from pg_proc p where p.pronamespace = 'public'::regnamespace
    union all
    select 'set ' || array_to_string(s.setconfig, ',') from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase
      where d.datname = current_database()
    union all
    select 'ext ' || extname || ' ' || extversion from pg_extension
  )
  select md5(string_agg(fact, E'\\n' order by fact)) as fingerprint from facts`;

async function withClient<T>(database: string, adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function takeSnapshot(client: pg.Client): Promise<Snapshot> {
  const fingerprint = (await client.query<{ fingerprint: string }>(FINGERPRINT)).rows[0]!.fingerprint;
  // Partitions are emptied through their parent.
  const tables = (
    await client.query<{ name: string }>(
      "select quote_ident(relname) as name from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') and not relispartition order by 1",
    )
  ).rows.map((row) => row.name);
  const rows: Snapshot["rows"] = [];
  for (const table of tables) {
    const found = await client.query<{ json: string | null }>(`select json_agg(t)::text as json from ${table} t`);
    const json = found.rows[0]?.json;
    if (json) rows.push({ table, json });
  }
  const sequences = (
    await client.query<{ name: string }>("select quote_ident(relname) as name from pg_class where relnamespace = 'public'::regnamespace and relkind = 'S' order by 1")
  ).rows.map((row) => row.name);
  const values: Snapshot["sequences"] = [];
  for (const name of sequences) {
    const row = (await client.query<{ value: string; called: boolean }>(`select last_value::text as value, is_called as called from ${name}`)).rows[0]!;
    values.push({ name, ...row });
  }
  return { fingerprint, tables, rows, sequences: values };
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
}

function state(template: string, adminUrl: string): ReuseState {
  const holder = globalThis as WithReuse;
  if (holder[key]?.template === template) return holder[key];
  // Databases a previous kept thread of this process left (it is gone: one thread at a time).
  const cleared = dropReusedDatabases(processToken, adminUrl);
  holder[key] = { template, cleared, snapshot: undefined, free: [], uses: new Map() };
  return holder[key];
}

/** A database holding exactly what `template` holds: a reset one handed back earlier, or a new copy. */
export async function takeDatabase(template: string, adminUrl: string): Promise<string> {
  const reuse = state(template, adminUrl);
  await reuse.cleared;
  const free = reuse.free.pop();
  if (free) return free;
  const name = `${prefix}${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name} template ${template}`);
  } finally {
    await admin.end();
  }
  reuse.uses.set(name, 0);
  reuse.snapshot ??= withClient(name, adminUrl, takeSnapshot);
  await reuse.snapshot;
  return name;
}

/** After the file's pool is closed: reset to the template's rows and keep, or drop if the schema moved. */
export async function giveBackDatabase(template: string, adminUrl: string, name: string): Promise<void> {
  const reuse = state(template, adminUrl);
  const expected = await reuse.snapshot!;
  const uses = (reuse.uses.get(name) ?? 0) + 1;
  let keep = uses < USES_PER_DATABASE;
  if (keep) {
    keep = await withClient(name, adminUrl, async (client) => {
      // Whatever still holds a connection (a child process a test started) lets go first.
      await client.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()");
      const fingerprint = (await client.query<{ fingerprint: string }>(FINGERPRINT)).rows[0]!.fingerprint;
      if (fingerprint !== expected.fingerprint) return false;
      await client.query("begin");
      // Triggers (the audit tables' append-only guards) and foreign-key checks are off for this session only.
      await client.query("set local session_replication_role = replica");
      for (const table of expected.tables) await client.query(`delete from ${table}`);
      for (const { table, json } of expected.rows) {
        await client.query(`insert into ${table} overriding system value select * from json_populate_recordset(null::${table}, $1::json)`, [json]);
      }
      for (const { name: sequence, value, called } of expected.sequences) await client.query("select setval($1::regclass, $2::bigint, $3)", [sequence, value, called]);
      await client.query("commit");
      return true;
    }).catch(() => false);
  }
  if (keep) {
    reuse.uses.set(name, uses);
    reuse.free.push(name);
  } else {
    reuse.uses.delete(name);
    await dropDatabase(adminUrl, name);
  }
}

/** Drops every database the kept threads of the process with `token` kept (at vitest's close). */
export async function dropReusedDatabases(token: string, adminUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const left = await admin.query<{ datname: string }>("select datname from pg_database where datname like $1", [`${namePrefix(token).replaceAll("_", "\\_")}%`]);
    for (const row of left.rows) await admin.query(`drop database if exists ${row.datname} with (force)`).catch(() => undefined);
  } finally {
    await admin.end();
  }
}
