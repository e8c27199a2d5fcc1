import { sql, type Kysely } from "kysely";
import type { DB } from "../db/schema.js";

/**
 * A large synthetic data set for benchmarks: accounts `acc_s0000001…` with users, billing rows and
 * sign-in activity, generated inside the database with generate_series (one round trip per batch,
 * the same SQL on PGlite and PostgreSQL). Re-running continues after the accounts already there.
 */
export interface SyntheticOptions {
  accounts: number;
  usersPerAccount: number;
  batchSize?: number;
  /** Drop secondary indexes during the load and rebuild them once at the end (default: for 10k+ accounts). */
  deferIndexes?: boolean;
  onProgress?: (done: number, total: number) => void;
  onPhase?: (phase: string) => void;
}

const BULK_TABLES = ["accounts", "users", "billing_customers", "billing_subscriptions", "billing_invoices", "activity_events"];

/**
 * Building GIN trigram indexes row by row makes a million-row load crawl (PGlite especially); one
 * build at the end is many times faster. The definitions are saved first, so a load that dies
 * half-way gets its indexes back on the next run.
 */
async function saveAndDropIndexes(db: Kysely<DB>): Promise<number> {
  await sql`create table if not exists steward_deferred_indexes (indexname text primary key, indexdef text not null)`.execute(db);
  const found = await sql<{ indexname: string; indexdef: string }>`
    select indexname, indexdef from pg_indexes
    where schemaname = current_schema() and tablename in (${sql.join(BULK_TABLES)}) and indexdef not like 'CREATE UNIQUE%'`.execute(db);
  await db.transaction().execute(async (trx) => {
    for (const { indexname, indexdef } of found.rows) {
      await sql`insert into steward_deferred_indexes (indexname, indexdef) values (${indexname}, ${indexdef}) on conflict do nothing`.execute(trx);
      await sql.raw(`drop index if exists "${indexname}"`).execute(trx);
    }
  });
  return found.rows.length;
}

export async function restoreDeferredIndexes(db: Kysely<DB>, onPhase?: (phase: string) => void): Promise<number> {
  const exists = await sql<{ t: string | null }>`select to_regclass('steward_deferred_indexes')::text as t`.execute(db);
  if (!exists.rows[0]?.t) return 0;
  const saved = await sql<{ indexname: string; indexdef: string }>`select indexname, indexdef from steward_deferred_indexes order by indexname`.execute(db);
  for (const { indexname, indexdef } of saved.rows) {
    onPhase?.(`rebuilding index ${indexname}`);
    await db.transaction().execute(async (trx) => {
      await sql.raw(indexdef.replace(/^CREATE INDEX /, "CREATE INDEX IF NOT EXISTS ")).execute(trx);
      await sql`delete from steward_deferred_indexes where indexname = ${indexname}`.execute(trx);
    });
  }
  return saved.rows.length;
}

const FIRST = ["James", "Maria", "John", "Zoë", "Ahmed", "Wei", "Olga", "Liam", "Aisha", "Mateo", "Chloé", "Noah", "Sofía", "Yuki", "Ravi", "Emma", "Lukas", "Fatima", "Diego", "Ingrid"];
const LAST = ["Smith", "García", "Müller", "Nguyen", "Kowalski", "Rossi", "Johnson", "Dubois", "Silva", "Tanaka", "Okafor", "Novák", "Larsen", "Cohen", "Patel", "Brown", "Jensen", "López", "Schneider", "Ivanova"];
const WORDS = ["North", "Blue", "Rapid", "Quantum", "Bright", "Silver", "Iron", "Green", "Pixel", "Cloud", "Harbor", "Summit", "Vertex", "Nimbus", "Atlas", "Cedar", "Echo", "Falcon", "Granite", "Lumen"];
const KINDS = ["Labs", "Works", "Systems", "Studio", "Logistics", "Health", "Analytics", "Foods", "Media", "Partners"];

function pgArray(values: string[]): string {
  return `array[${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(",")}]`;
}

export async function existingSyntheticAccounts(db: Kysely<DB>): Promise<number> {
  const row = await db.selectFrom("accounts").select((eb) => eb.fn.countAll<number>().as("n")).where("id", "like", "acc_s%").executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function seedSynthetic(db: Kysely<DB>, options: SyntheticOptions): Promise<{ accounts: number; users: number; skipped: number }> {
  const batch = options.batchSize ?? 2_000;
  await restoreDeferredIndexes(db, options.onPhase);
  const already = await existingSyntheticAccounts(db);
  const total = options.accounts;
  const upu = options.usersPerAccount;
  const first = pgArray(FIRST);
  const last = pgArray(LAST);
  const words = pgArray(WORDS);
  const kinds = pgArray(KINDS);
  let done = already;
  options.onProgress?.(Math.min(done, total), total);
  const defer = done < total && (options.deferIndexes ?? total - done >= 10_000);
  if (defer) await saveAndDropIndexes(db);
  while (done < total) {
    const from = done + 1;
    const to = Math.min(done + batch, total);
    await db.transaction().execute(async (trx) => {
      const q = (text: string) => sql.raw(text).execute(trx);
      // Statuses cycle so every state is common enough to benchmark: mostly active, some trialing/past_due/suspended/deactivated.
      await q(`insert into accounts (id, name, domain, status, plan, seats_licensed, billing_customer_id, created_at, updated_at)
        select 'acc_s' || lpad(g::text, 7, '0'),
               (${words})[1 + g % 20] || ' ' || (${words})[1 + (g / 20) % 20] || ' ' || (${kinds})[1 + (g / 400) % 10] || ' ' || g,
               lower((${words})[1 + g % 20] || (${words})[1 + (g / 20) % 20]) || g || '.example',
               (array['active','active','active','active','active','active','trialing','past_due','suspended','deactivated'])[1 + g % 10],
               (array['starter','team','business','enterprise'])[1 + g % 4],
               ${upu} + (g % 5),
               'cus_s' || lpad(g::text, 7, '0'),
               now() - (g % 1000) * interval '1 day', now() - (g % 30) * interval '1 day'
        from generate_series(${from}, ${to}) g`);
      await q(`insert into users (id, account_id, email, name, role, status, idp_id, last_login_at, failed_login_count, locked_until, mfa_enrolled, mfa_methods, created_at, updated_at)
        select 'usr_s' || lpad(g::text, 7, '0') || '_' || u,
               'acc_s' || lpad(g::text, 7, '0'),
               lower(unaccent((${first})[1 + (g + u) % 20]) || '.' || unaccent((${last})[1 + (g * 7 + u) % 20])) || u || '@' ||
                 lower((${words})[1 + g % 20] || (${words})[1 + (g / 20) % 20]) || g || '.example',
               (${first})[1 + (g + u) % 20] || ' ' || (${last})[1 + (g * 7 + u) % 20],
               case when u = 1 then 'owner' when u = 2 then 'admin' when u = 3 then 'billing' else 'member' end,
               case when (g + u) % 37 = 0 then 'deactivated' when (g + u) % 23 = 0 then 'invited' else 'active' end,
               'auth0|s' || g || 'u' || u,
               now() - ((g + u) % 60) * interval '1 hour',
               case when (g + u) % 97 = 0 then 6 else 0 end,
               case when (g + u) % 97 = 0 then now() + interval '30 minutes' else null end,
               (g + u) % 3 <> 0,
               case when (g + u) % 3 <> 0 then array['totp'] else array[]::text[] end,
               now() - (g % 900) * interval '1 day', now() - (g % 30) * interval '1 day'
        from generate_series(${from}, ${to}) g, generate_series(1, ${upu}) u`);
      await q(`insert into billing_customers (id, account_id, email, currency, balance_cents, created_at)
        select 'cus_s' || lpad(g::text, 7, '0'), 'acc_s' || lpad(g::text, 7, '0'),
               'billing@' || lower((${words})[1 + g % 20] || (${words})[1 + (g / 20) % 20]) || g || '.example', 'usd', 0,
               now() - (g % 1000) * interval '1 day'
        from generate_series(${from}, ${to}) g`);
      await q(`insert into billing_subscriptions (id, customer_id, plan, interval, status, unit_amount_cents, quantity, trial_end, current_period_end, created_at, updated_at)
        select 'sub_s' || lpad(g::text, 7, '0'), 'cus_s' || lpad(g::text, 7, '0'),
               (array['starter','team','business','enterprise'])[1 + g % 4], 'month',
               (array['active','active','active','active','active','active','trialing','past_due','active','canceled'])[1 + g % 10],
               (array[1500, 2900, 4900, 8900])[1 + g % 4], ${upu} + (g % 5),
               case when g % 10 = 6 then now() + (g % 14) * interval '1 day' else null end,
               now() + (1 + g % 28) * interval '1 day', now() - (g % 1000) * interval '1 day', now()
        from generate_series(${from}, ${to}) g`);
      await q(`insert into billing_invoices (id, customer_id, subscription_id, number, status, amount_due_cents, amount_paid_cents, amount_remaining_cents, attempt_count, next_payment_attempt, created_at)
        select 'in_s' || lpad(g::text, 7, '0') || '_' || k, 'cus_s' || lpad(g::text, 7, '0'), 'sub_s' || lpad(g::text, 7, '0'),
               'S' || g || '-' || k,
               case when k = 1 and g % 10 = 7 then 'open' else 'paid' end,
               (array[1500, 2900, 4900, 8900])[1 + g % 4] * (${upu} + (g % 5)),
               case when k = 1 and g % 10 = 7 then 0 else (array[1500, 2900, 4900, 8900])[1 + g % 4] * (${upu} + (g % 5)) end,
               case when k = 1 and g % 10 = 7 then (array[1500, 2900, 4900, 8900])[1 + g % 4] * (${upu} + (g % 5)) else 0 end,
               case when k = 1 and g % 10 = 7 then 3 else 1 end,
               case when k = 1 and g % 10 = 7 then now() + interval '2 days' else null end,
               now() - k * interval '30 days'
        from generate_series(${from}, ${to}) g, generate_series(1, 2) k`);
      await q(`insert into activity_events (account_id, user_id, type, detail, ip, occurred_at)
        select 'acc_s' || lpad(g::text, 7, '0'), 'usr_s' || lpad(g::text, 7, '0') || '_' || u,
               case when (g + u) % 97 = 0 then 'login_failed' else 'login' end, null,
               '198.51.100.' || ((g + u) % 250), now() - ((g + u) % 60) * interval '1 hour'
        from generate_series(${from}, ${to}) g, generate_series(1, ${upu}) u`);
    });
    done = to;
    options.onProgress?.(done, total);
  }
  if (defer) await restoreDeferredIndexes(db, options.onPhase);
  await sql`analyze`.execute(db);
  return { accounts: Math.max(0, total - already), users: Math.max(0, total - already) * upu, skipped: Math.min(already, total) };
}
