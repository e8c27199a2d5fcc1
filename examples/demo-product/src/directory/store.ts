import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";

/**
 * The demo product's own directory: its accounts and users in its own PGlite database (never
 * Steward's tables). Each row has a version the product bumps on every change; writes are applied
 * once per idempotency key (the answer is kept and replayed).
 */
export interface AccountRow {
  id: string;
  name: string;
  domain: string | null;
  status: string;
  plan: string;
  seatsLicensed: number;
  /** Extra seats support granted for a while (Steward sets them back when the expansion ends). */
  seatsTemporary?: number;
  billingCustomerId: string | null;
  version: number;
}

export interface UserRow {
  id: string;
  accountId: string;
  email: string;
  name: string;
  role: string;
  status: string;
  idpId: string | null;
  staff: boolean;
  protected: boolean;
  settings: Record<string, string | number | boolean>;
  version: number;
}

const SCHEMA = `
create table if not exists accounts (
  id text primary key, name text not null, domain text, status text not null, plan text not null,
  seats_licensed int not null, seats_temporary int not null default 0, billing_customer_id text, version int not null default 1);
alter table accounts add column if not exists seats_temporary int not null default 0;
create table if not exists users (
  id text primary key, account_id text not null references accounts(id), email text not null, name text not null,
  role text not null, status text not null, idp_id text, staff boolean not null default false,
  protected boolean not null default false, settings jsonb not null default '{}', version int not null default 1);
alter table users add column if not exists email_key text;
drop index if exists users_email;
create index if not exists users_email_key on users (email_key);
create index if not exists users_account on users (account_id);
create extension if not exists pg_trgm;
create index if not exists users_id_trgm on users using gin (lower(id) gin_trgm_ops);
drop index if exists users_email_trgm;
create index if not exists users_email_key_trgm on users using gin (email_key gin_trgm_ops);
create index if not exists users_name_trgm on users using gin (lower(name) gin_trgm_ops);
create index if not exists accounts_id_trgm on accounts using gin (lower(id) gin_trgm_ops);
create index if not exists accounts_name_trgm on accounts using gin (lower(name) gin_trgm_ops);
create index if not exists accounts_domain_trgm on accounts using gin (lower(coalesce(domain, '')) gin_trgm_ops);
create table if not exists write_keys (key text primary key, request text not null, status int not null, body jsonb not null);
`;

const ACCOUNT_COLUMNS = `id, name, domain, status, plan, seats_licensed as "seatsLicensed", seats_temporary as "seatsTemporary", billing_customer_id as "billingCustomerId", version`;
const USER_COLUMNS = `id, account_id as "accountId", email, name, role, status, idp_id as "idpId", staff, protected, settings, version`;

type Queryable = Pick<PGlite, "query">;

/**
 * The one spelling two emails are compared in, as Steward compares them: NFC, then lower case (full
 * Unicode, locale-independent), so `José@…`, `JOSÉ@…` and `Jose\u0301@…` are one address while `jose@`
 * stays another. Computed here rather than by SQL lower(), which leaves ASCII alone under some ctypes
 * and differs from JavaScript's on a few letters (a final sigma); kept in users.email_key, indexed.
 */
export function emailKey(email: string): string {
  return email.normalize("NFC").toLowerCase();
}

export class DirectoryStore {
  private constructor(readonly db: PGlite) {}

  /** `dataDir` undefined: in memory (tests, the demo's first start). */
  static async open(dataDir?: string): Promise<DirectoryStore> {
    // Trigram indexes: search matches inside ids, emails and names (like '%q%'), which no b-tree serves.
    const db = await PGlite.create(dataDir, { extensions: { pg_trgm } });
    await db.exec(SCHEMA);
    // Rows a data directory kept from before email_key existed.
    const unkeyed = (await db.query<{ id: string; email: string }>(`select id, email from users where email_key is null`)).rows;
    if (unkeyed.length) {
      await db.query(`update users u set email_key = k.key from jsonb_to_recordset($1::jsonb) as k(id text, key text) where u.id = k.id`, [JSON.stringify(unkeyed.map((u) => ({ id: u.id, key: emailKey(u.email) })))]);
    }
    // PGlite runs no autovacuum: without statistics the planner guesses, and guessed a full walk of the
    // primary key for a search that matches nothing.
    await db.exec("analyze accounts; analyze users");
    return new DirectoryStore(db);
  }

  /** Adds accounts and users (kept as they are when the id exists): one statement per table, whatever the count. */
  async load(accounts: AccountRow[], users: UserRow[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `insert into accounts (id, name, domain, status, plan, seats_licensed, seats_temporary, billing_customer_id, version)
         select id, name, domain, status, plan, "seatsLicensed", coalesce("seatsTemporary", 0), "billingCustomerId", version from jsonb_to_recordset($1::jsonb)
           as x(id text, name text, domain text, status text, plan text, "seatsLicensed" int, "seatsTemporary" int, "billingCustomerId" text, version int)
         on conflict (id) do nothing`,
        [JSON.stringify(accounts)],
      );
      await tx.query(
        `insert into users (id, account_id, email, email_key, name, role, status, idp_id, staff, protected, settings, version)
         select id, "accountId", email, "emailKey", name, role, status, "idpId", staff, protected, settings, version from jsonb_to_recordset($1::jsonb)
           as x(id text, "accountId" text, email text, "emailKey" text, name text, role text, status text, "idpId" text, staff boolean, protected boolean, settings jsonb, version int)
         on conflict (id) do nothing`,
        [JSON.stringify(users.map((u) => ({ ...u, emailKey: emailKey(u.email) })))],
      );
    });
    await this.db.exec("analyze accounts; analyze users");
  }

  async account(id: string, db: Queryable = this.db): Promise<AccountRow | null> {
    return (await db.query<AccountRow>(`select ${ACCOUNT_COLUMNS} from accounts where id = $1`, [id])).rows[0] ?? null;
  }

  /** `deleted: true`: also a deleted user (the answer to the write that deleted it). */
  async user(id: string, db: Queryable = this.db, options: { deleted?: boolean } = {}): Promise<UserRow | null> {
    return (await db.query<UserRow>(`select ${USER_COLUMNS} from users where id = $1 and ($2 or status <> 'deleted')`, [id, options.deleted ?? false])).rows[0] ?? null;
  }

  async accountsOf(users: UserRow[], extra: AccountRow[] = []): Promise<AccountRow[]> {
    const ids = [...new Set(users.map((u) => u.accountId))].filter((id) => !extra.some((a) => a.id === id));
    const rows = ids.length ? (await this.db.query<AccountRow>(`select ${ACCOUNT_COLUMNS} from accounts where id = any($1::text[])`, [ids])).rows : [];
    return [...extra, ...rows];
  }

  /** GET /users: the users found and their accounts, in one statement (a lookup is on every context Steward shows). */
  async lookupWithAccounts(q: { email?: string; id?: string; externalId?: string }): Promise<{ accounts: AccountRow[]; users: UserRow[] }> {
    const id = q.id ?? q.externalId ?? null;
    const { rows } = await this.db.query<{ accounts: AccountRow[]; users: UserRow[] }>(
      `with u as (
         select ${USER_COLUMNS} from users where status <> 'deleted' and ($1::text is null or email_key = $1) and ($2::text is null or id = $2) order by id limit 50)
       select coalesce((select json_agg(u order by u.id) from u), '[]') as users,
              coalesce((select json_agg(a order by a.id) from (select ${ACCOUNT_COLUMNS} from accounts where id in (select "accountId" from u)) a), '[]') as accounts`,
      [q.email === undefined ? null : emailKey(q.email), id],
    );
    return rows[0] ?? { accounts: [], users: [] };
  }

  /** GET /accounts/:id: the account with its users, in one statement; null when there is no such account. */
  async accountWithUsers(id: string): Promise<{ account: AccountRow; users: UserRow[] } | null> {
    const { rows } = await this.db.query<{ account: AccountRow; users: UserRow[] }>(
      `select row_to_json(a) as account,
              coalesce((select json_agg(u order by u.id) from (select ${USER_COLUMNS} from users where account_id = a.id and status <> 'deleted') u), '[]') as users
       from (select ${ACCOUNT_COLUMNS} from accounts where id = $1) a`,
      [id],
    );
    return rows[0] ?? null;
  }

  /** Candidates only; Steward ranks them. Emails match by email_key: the text in any case and either Unicode form. */
  async search(q: string, limit: number): Promise<{ accounts: AccountRow[]; users: UserRow[] }> {
    const contains = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const like = contains(q.toLowerCase());
    const [accounts, users] = await Promise.all([
      this.db.query<AccountRow>(`select ${ACCOUNT_COLUMNS} from accounts where lower(id) like $1 or lower(name) like $1 or lower(coalesce(domain, '')) like $1 order by id limit $2`, [like, limit]),
      this.db.query<UserRow>(`select ${USER_COLUMNS} from users where status <> 'deleted' and (lower(id) like $1 or email_key like $3 or lower(name) like $1) order by id limit $2`, [like, limit, contains(emailKey(q))]),
    ]);
    return { accounts: await this.accountsOf(users.rows, accounts.rows), users: users.rows };
  }

  /**
   * One write, once per key: `change` runs in a transaction with the row locked; its answer is kept
   * under the key, and a repeat on the same object gets the same answer without running again —
   * whatever its body says (Steward's retry may carry a newer expectedVersion it read meanwhile).
   */
  async writeOnce(key: string, request: string, change: (tx: Queryable) => Promise<{ status: number; body: unknown }>): Promise<{ status: number; body: unknown }> {
    return this.db.transaction(async (tx) => {
      const seen = (await tx.query<{ request: string; status: number; body: unknown }>(`select request, status, body from write_keys where key = $1`, [key])).rows[0];
      if (seen) {
        if (seen.request !== request) return { status: 422, body: { code: "idempotency_key_reused", title: "Idempotency key reused", detail: "this key was used for another object" } };
        return { status: seen.status, body: seen.body };
      }
      const answer = await change(tx);
      // Refusals are not kept: the same key may be retried once the object is right.
      if (answer.status < 300) await tx.query(`insert into write_keys values ($1, $2, $3, $4)`, [key, request, answer.status, JSON.stringify(answer.body)]);
      return answer;
    });
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
