import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express, { type RequestHandler } from "express";
import { createLocalJWKSet } from "jose";
import { sql, type Kysely } from "kysely";
import { directoryRouter } from "../../../examples/demo-product/src/directory/routes.js";
import { DirectoryStore, emailKey, type AccountRow, type UserRow } from "../../../examples/demo-product/src/directory/store.js";
import type { DB } from "../../src/db/schema.js";
import { accountFromRow, userFromRow } from "../../src/directory/rows.js";
import type { GrantKeys } from "../../src/impersonation/signingKeys.js";

/**
 * The demo product's directory (examples/demo-product) on a loopback port, over its own in-memory
 * PGlite: what DIRECTORY_PROVIDER=http talks to in tests. `faults` makes it slow or failing;
 * `before` puts middleware in front (the checker test's deliberately broken products).
 */
export interface ProductDirectory {
  url: string;
  store: DirectoryStore;
  /**
   * Applied to every request, or to writes only (`writesOnly`). `answerDelayMs`: a write is applied at
   * once but answered that much later (the answer lost on the way back, as Steward sees it).
   */
  faults: { delayMs: number; status: number | null; writesOnly: boolean; answerDelayMs: number };
  /**
   * Set: called with each answer once the product has it ready (read as the objects were then); an
   * answer it returns a promise for is sent only once that settles (answers released in a chosen order).
   */
  holdAnswer: ((request: ProductRequest) => Promise<void> | undefined) | null;
  /** Every request as it reached the product (before any fault): what Steward asked, when, over which connection. */
  requests: ProductRequest[];
  close(): Promise<void>;
}

export interface ProductRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  /** Steward's end of the TCP connection: the same port again means a reused connection. */
  clientPort: number | undefined;
  /** Steward's token for the request (who asks, from which ticket). */
  authorization: string | undefined;
  arrivedAt: number;
  /** When the answer was sent (undefined while pending). */
  answeredAt?: number;
}

export async function startProductDirectory(options: { keys: GrantKeys; issuer: string; audience: string; now: () => Date; rows?: { accounts: AccountRow[]; users: UserRow[] }; before?: (store: DirectoryStore) => RequestHandler[] }): Promise<ProductDirectory> {
  const store = await DirectoryStore.open();
  if (options.rows) await store.load(options.rows.accounts, options.rows.users);
  const faults: ProductDirectory["faults"] = { delayMs: 0, status: null, writesOnly: false, answerDelayMs: 0 };
  const requests: ProductRequest[] = [];
  const directory: ProductDirectory = { url: "", store, faults, holdAnswer: null, requests, close: async () => undefined };
  const app = express();
  app.use((req, res, next) => {
    const seen: ProductRequest = { method: req.method, url: req.originalUrl, clientPort: req.socket.remotePort, authorization: req.headers.authorization, arrivedAt: performance.now() };
    requests.push(seen);
    res.locals.seen = seen;
    res.on("finish", () => void (seen.answeredAt = performance.now()));
    next();
  });
  app.use((_req, res, next) => {
    const send = res.send.bind(res);
    // Asked when the answer is ready (the product has read the objects), not when the request arrives.
    res.send = (body: unknown) => {
      const held = directory.holdAnswer?.(res.locals.seen as ProductRequest);
      if (held) void held.then(() => send(body as never));
      else send(body as never);
      return res;
    };
    next();
  });
  app.use((req, res, next) => {
    if (!faults.answerDelayMs || req.method === "GET") return next();
    const send = res.send.bind(res);
    const delay = faults.answerDelayMs;
    res.send = (body: unknown) => {
      setTimeout(() => send(body as never), delay);
      return res;
    };
    next();
  });
  app.use(async (req, res, next) => {
    if (faults.writesOnly && req.method === "GET") return next();
    if (faults.delayMs) await new Promise((r) => setTimeout(r, faults.delayMs));
    if (faults.status) return void res.status(faults.status).type("application/problem+json").send(JSON.stringify({ type: "about:blank", title: "Down", status: faults.status, code: "unavailable" }));
    next();
  });
  for (const handler of options.before?.(store) ?? []) app.use(handler);
  // The product trusts Steward's published keys (here read directly rather than over /.well-known/jwks.json).
  const jwks = createLocalJWKSet((await options.keys.jwks(options.now())) as never);
  app.use(directoryRouter({ store, keys: jwks, issuer: options.issuer, audience: options.audience, now: options.now }));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  directory.url = `http://127.0.0.1:${port}`;
  directory.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
  };
  return directory;
}

/** Steward's seeded accounts and users as the product's own rows (the product starts with the same customers). */
export async function directoryRowsOf(db: Kysely<DB>): Promise<{ accounts: AccountRow[]; users: UserRow[] }> {
  const [accounts, users] = await Promise.all([db.selectFrom("accounts").selectAll().orderBy("id").execute(), db.selectFrom("users").selectAll().orderBy("id").execute()]);
  return { accounts: accounts.map(accountFromRow), users: users.map(userFromRow) };
}

/**
 * After a test arranged Steward's tables directly (as if the product had those customers): the
 * product's store takes the same values (a changed row gets a new version there, as any product
 * change would), and Steward's cache records the product's versions, so nothing looks stale.
 */
export async function syncProductDirectory(db: Kysely<DB>, store: DirectoryStore): Promise<void> {
  const rows = await directoryRowsOf(db);
  const pg = store.db;
  await pg.query(
    `insert into accounts (id, name, domain, status, plan, seats_licensed, billing_customer_id, version)
     select id, name, domain, status, plan, "seatsLicensed", "billingCustomerId", 1 from jsonb_to_recordset($1::jsonb)
       as x(id text, name text, domain text, status text, plan text, "seatsLicensed" int, "billingCustomerId" text)
     on conflict (id) do update set name = excluded.name, domain = excluded.domain, status = excluded.status, plan = excluded.plan,
       seats_licensed = excluded.seats_licensed, billing_customer_id = excluded.billing_customer_id, version = accounts.version + 1
     where (accounts.name, accounts.domain, accounts.status, accounts.plan, accounts.seats_licensed, accounts.billing_customer_id)
       is distinct from (excluded.name, excluded.domain, excluded.status, excluded.plan, excluded.seats_licensed, excluded.billing_customer_id)`,
    [JSON.stringify(rows.accounts)],
  );
  await pg.query(
    `insert into users (id, account_id, email, email_key, name, role, status, idp_id, protected, version)
     select id, "accountId", email, "emailKey", name, role, status, "idpId", protected, 1 from jsonb_to_recordset($1::jsonb)
       as x(id text, "accountId" text, email text, "emailKey" text, name text, role text, status text, "idpId" text, protected boolean)
     on conflict (id) do update set account_id = excluded.account_id, email = excluded.email, email_key = excluded.email_key, name = excluded.name, role = excluded.role,
       status = excluded.status, idp_id = excluded.idp_id, protected = excluded.protected, version = users.version + 1
     where (users.account_id, users.email, users.name, users.role, users.status, users.idp_id, users.protected)
       is distinct from (excluded.account_id, excluded.email, excluded.name, excluded.role, excluded.status, excluded.idp_id, excluded.protected)`,
    // The product keys emails in its own code (emailKey), not in SQL: a row written here needs its key too.
    [JSON.stringify(rows.users.map((u) => ({ ...u, emailKey: emailKey(u.email) })))],
  );
  const versions = async (table: "accounts" | "users") => (await pg.query<{ id: string; version: number }>(`select id, version from ${table}`)).rows;
  for (const table of ["accounts", "users"] as const) {
    const list = await versions(table);
    await sql`update ${sql.table(table)} t set directory_version = v.version from jsonb_to_recordset(${JSON.stringify(list)}::jsonb) as v(id text, version int) where t.id = v.id`.execute(db);
  }
}
