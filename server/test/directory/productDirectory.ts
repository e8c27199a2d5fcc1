import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express, { type RequestHandler } from "express";
import { createLocalJWKSet } from "jose";
import type { Kysely } from "kysely";
import { directoryRouter } from "../../../examples/demo-product/src/directory/routes.js";
import { DirectoryStore, type AccountRow, type UserRow } from "../../../examples/demo-product/src/directory/store.js";
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
  /** Applied to every request, or to writes only (`writesOnly`). */
  faults: { delayMs: number; status: number | null; writesOnly: boolean };
  close(): Promise<void>;
}

export async function startProductDirectory(options: { keys: GrantKeys; issuer: string; audience: string; now: () => Date; rows?: { accounts: AccountRow[]; users: UserRow[] }; before?: (store: DirectoryStore) => RequestHandler[] }): Promise<ProductDirectory> {
  const store = await DirectoryStore.open();
  if (options.rows) await store.load(options.rows.accounts, options.rows.users);
  const faults: ProductDirectory["faults"] = { delayMs: 0, status: null, writesOnly: false };
  const app = express();
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
  return {
    url: `http://127.0.0.1:${port}`,
    store,
    faults,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    },
  };
}

/** Steward's seeded accounts and users as the product's own rows (the product starts with the same customers). */
export async function directoryRowsOf(db: Kysely<DB>): Promise<{ accounts: AccountRow[]; users: UserRow[] }> {
  const [accounts, users] = await Promise.all([db.selectFrom("accounts").selectAll().orderBy("id").execute(), db.selectFrom("users").selectAll().orderBy("id").execute()]);
  return { accounts: accounts.map(accountFromRow), users: users.map(userFromRow) };
}
