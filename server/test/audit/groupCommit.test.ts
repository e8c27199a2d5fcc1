import { createServer, connect, type AddressInfo, type Socket } from "node:net";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { appendAudit, type AppendedAuditEntry } from "../../src/audit/auditLog.js";
import { AuditWriteFailed } from "../../src/audit/failClosed.js";
import { sealPending } from "../../src/audit/sealer.js";
import { verifyAuditChain } from "../../src/audit/verifyChain.js";
import { systemClock } from "../../src/clock.js";
import { openDatabase, type Database } from "../../src/db/database.js";
import { TEST_AUDIT_KEYS as keys } from "../support/auditKeys.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";
import { agent, HOOK_TIMEOUT, resetAuditLog, writeEntry } from "./fixtures.js";

/**
 * Entries written on their own (lookups, refusals, failures) share INSERTs and commits when they arrive
 * together (auditLog.ts, AppendBatcher). Each caller must still get exactly its own stored entry, one
 * entry's refusal must fail that caller only, and a lost connection must fail every entry of its INSERT
 * without trying them again (their commit is unknown; a retry could store one twice).
 */
const AT_ONCE = 30;

async function rowsByReason(database: Database) {
  return database.db.selectFrom("audit_log").select(["seq", "id", "reason", sql<string>`tx::text`.as("tx")]).orderBy("seq").execute();
}

describe.each(databaseKinds)("appends that arrive together, on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await database.close();
  }, HOOK_TIMEOUT);
  beforeEach(async () => {
    await sql.raw("drop trigger if exists test_refuse_some on audit_log").execute(database.db);
    await resetAuditLog(database.db);
  });

  it(`${AT_ONCE} at once: fewer commits than entries, each caller gets its own entry, the chain verifies`, async () => {
    const entries = await Promise.all(Array.from({ length: AT_ONCE }, (_, i) => appendAudit(database.db, writeEntry({ actor: agent(i), reason: `entry ${i}` }), systemClock)));
    // Each caller's entry is the one it asked for, as stored.
    const rows = await rowsByReason(database);
    expect(rows).toHaveLength(AT_ONCE);
    entries.forEach((entry, i) => {
      expect(entry.reason).toBe(`entry ${i}`);
      expect(entry.actor.staffId).toBe(`stf_test_${i}`);
      expect(rows.find((r) => r.id === entry.id)).toMatchObject({ seq: entry.seq, reason: `entry ${i}` });
    });
    expect(new Set(entries.map((e) => e.seq)).size).toBe(AT_ONCE);
    // Shared commits happened: more entries than transactions.
    expect(new Set(rows.map((r) => r.tx)).size).toBeLessThan(AT_ONCE);
    await sealPending(database.db, keys);
    expect(await verifyAuditChain(database.db, keys, { mode: "full", record: false })).toMatchObject({ ok: true, entries: AT_ONCE, breaks: [] });
  });

  it("one entry the database refuses fails that caller only; the others in its INSERT are stored", async () => {
    // A statement error (P0001) for one reason only: the shared INSERT fails whole, and its entries go again one by one.
    await sql
      .raw(
        `create or replace function test_refuse_some() returns trigger language plpgsql as $$ begin if new.reason = 'refuse me' then raise exception 'refused for the test'; end if; return new; end $$`,
      )
      .execute(database.db);
    await sql.raw("create trigger test_refuse_some before insert on audit_log for each row execute function test_refuse_some()").execute(database.db);
    const REFUSED = [5, 17, 18];
    const results = await Promise.allSettled(
      Array.from({ length: AT_ONCE }, (_, i) => appendAudit(database.db, writeEntry({ reason: REFUSED.includes(i) ? "refuse me" : `entry ${i}` }), systemClock)),
    );
    results.forEach((result, i) => {
      if (REFUSED.includes(i)) {
        expect(result.status).toBe("rejected");
        expect((result as PromiseRejectedResult).reason).toBeInstanceOf(AuditWriteFailed);
      } else {
        expect(result.status).toBe("fulfilled");
        expect((result as PromiseFulfilledResult<AppendedAuditEntry>).value.reason).toBe(`entry ${i}`);
      }
    });
    const rows = await rowsByReason(database);
    expect(rows.map((r) => r.reason).sort()).toEqual(
      Array.from({ length: AT_ONCE }, (_, i) => i)
        .filter((i) => !REFUSED.includes(i))
        .map((i) => `entry ${i}`)
        .sort(),
    );
  });

  // Every shared INSERT has one text per row count (a named statement), so guarded rows (an actor authorised from
  // the cached staff row) and plain ones share it; the guard must still apply to its own row only.
  it("guarded and plain entries in one INSERT: each guard checks its own staff row, a changed one fails that caller only", async () => {
    const ids = Array.from({ length: AT_ONCE }, (_, i) => `stf_test_${i}`);
    await database.db.deleteFrom("staff").where("id", "in", ids).execute();
    await database.db
      .insertInto("staff")
      .values(ids.map((id, i) => ({ id, zendesk_user_id: String(7000 + i), email: `agent${i}@example.test`, name: `Agent ${i}`, panel_role: "support_full" as const })))
      .execute();
    const versions = new Map((await database.db.selectFrom("staff").select(["id", "updated_at"]).where("id", "in", ids).execute()).map((s) => [s.id, new Date(s.updated_at)]));
    const CHANGED = 7;
    const guarded = (i: number) => i % 2 === 1;
    const burst = () =>
      Promise.allSettled(
        ids.map((id, i) => appendAudit(database.db, writeEntry({ actor: { ...agent(i), ...(guarded(i) ? { cachedAsOf: versions.get(id) as Date } : {}) }, reason: `entry ${i}` }), systemClock)),
      );
    try {
      // Every guard holds: all stored, guarded and plain rows sharing INSERTs.
      expect((await burst()).filter((r) => r.status === "rejected")).toEqual([]);
      const first = await database.db.selectFrom("audit_log").select(["actor_role", "tx"]).execute();
      expect(first).toHaveLength(AT_ONCE);
      expect(first.every((r) => r.actor_role === "support_full")).toBe(true);
      expect(new Set(first.map((r) => String(r.tx))).size).toBeLessThan(AT_ONCE);
      // Agent 7 is demoted after their request was authorised from the cache: their entry alone is refused.
      await database.db.updateTable("staff").set({ panel_role: "support_read_only", updated_at: new Date(Date.now() + 1000) }).where("id", "=", ids[CHANGED] as string).execute();
      const results = await burst();
      const failed = results.flatMap((r, i) => (r.status === "rejected" ? [i] : []));
      expect(failed).toEqual([CHANGED]);
      expect((results[CHANGED] as PromiseRejectedResult).reason).toBeInstanceOf(AuditWriteFailed);
      const rows = await database.db.selectFrom("audit_log").select(["actor_staff_id", "actor_role"]).execute();
      expect(rows).toHaveLength(2 * AT_ONCE - 1);
      expect(rows.every((r) => r.actor_role === "support_full")).toBe(true);
    } finally {
      await database.db.deleteFrom("staff").where("id", "in", ids).execute();
    }
  });

  // The SQLSTATE decides (auditLog.ts, refusedWhole): a refused statement (22008 has "08" inside, not as its class)
  // is tried again entry by entry; a connection, resource, system or internal class (08, 57, 53, 58, XX) may have
  // committed, so every entry of that INSERT fails and none is tried again. Raised here on a live connection, so a
  // retry would succeed and be seen.
  it.each([
    ["22008", "retried"],
    ["08006", "failed whole"],
    ["57P01", "failed whole"],
    ["53300", "failed whole"],
    ["58030", "failed whole"],
    ["XX000", "failed whole"],
  ])("a shared INSERT refused with SQLSTATE %s is %s", async (code, expected) => {
    await sql
      .raw(
        `create or replace function test_refuse_some() returns trigger language plpgsql as $$ begin if new.reason = 'mark me' then raise exception 'marked for the test' using errcode = '${code}'; end if; return new; end $$`,
      )
      .execute(database.db);
    await sql.raw("create trigger test_refuse_some before insert on audit_log for each row execute function test_refuse_some()").execute(database.db);
    const results = await Promise.allSettled(
      Array.from({ length: AT_ONCE }, (_, i) => appendAudit(database.db, writeEntry({ reason: i === AT_ONCE - 1 ? "mark me" : `entry ${i}` }), systemClock)),
    );
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [i] : []));
    // The marked entry arrived last, behind the ones in flight, so it went in a shared INSERT with others.
    if (expected === "retried") expect(failed).toEqual([AT_ONCE - 1]);
    else {
      expect(failed).toContain(AT_ONCE - 1);
      expect(failed.length).toBeGreaterThan(1);
    }
    for (const i of failed) expect((results[i] as PromiseRejectedResult).reason).toBeInstanceOf(AuditWriteFailed);
    const acknowledged = results.flatMap((r) => (r.status === "fulfilled" ? [r.value.id] : []));
    expect((await rowsByReason(database)).map((r) => r.id).sort()).toEqual(acknowledged.sort());
  });
});

// A backend that ends itself exists only on a PostgreSQL server (PGlite has no second process to lose).
describe("a connection lost during a shared INSERT, on postgres", () => {
  let database: Database;
  beforeAll(async () => {
    database = await createTestDatabase("postgres");
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await database.close();
  }, HOOK_TIMEOUT);

  it("a connection lost during a shared INSERT fails all its entries and tries none again", async () => {
    // The backend ends itself while inserting one marked row: the statement's outcome is, for the client, unknown.
    await sql
      .raw(
        `create or replace function test_refuse_some() returns trigger language plpgsql as $$ begin if new.reason = 'cut me' then perform pg_terminate_backend(pg_backend_pid()); end if; return new; end $$`,
      )
      .execute(database.db);
    await sql.raw("create trigger test_refuse_some before insert on audit_log for each row execute function test_refuse_some()").execute(database.db);
    const results = await Promise.allSettled(
      Array.from({ length: AT_ONCE }, (_, i) => appendAudit(database.db, writeEntry({ reason: i === AT_ONCE - 1 ? "cut me" : `entry ${i}` }), systemClock)),
    );
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [i] : []));
    // The marked entry went in a shared INSERT (it arrived last, behind the ones in flight), so others failed with it.
    expect(failed).toContain(AT_ONCE - 1);
    expect(failed.length).toBeGreaterThan(1);
    for (const i of failed) expect((results[i] as PromiseRejectedResult).reason).toBeInstanceOf(AuditWriteFailed);
    // Checked over a connection of its own: the pool may still hold the client whose backend ended (pg
    // notices the closed socket a moment after the error), and that is not what this test is about.
    const client = new pg.Client({ connectionString: database.location });
    await client.connect();
    const rows = await client
      .query<{ id: string; reason: string }>("select id, reason from audit_log order by seq")
      .then((r) => r.rows)
      .finally(() => client.end());
    // Nothing of the cut INSERT is stored, nothing twice, and every entry that was acknowledged is there.
    expect(rows.map((r) => r.reason)).not.toContain("cut me");
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    const acknowledged = results.flatMap((r) => (r.status === "fulfilled" ? [r.value.id] : []));
    expect(rows.map((r) => r.id).sort()).toEqual(acknowledged.sort());
  });
});

/**
 * A loopback proxy in front of PostgreSQL that, the first time the client sends bytes containing `marker`,
 * sends nothing on and resets the client's connection (TCP RST): the client sees a socket error
 * (`ECONNRESET`, no SQLSTATE) in the middle of its statement, as after a network fault.
 */
async function resettingProxy(marker: string): Promise<{ port: number; resets: () => number; close: () => Promise<void> }> {
  const needle = Buffer.from(marker);
  const sockets = new Set<Socket>();
  let resets = 0;
  const server = createServer((client) => {
    const upstream = connect(5432, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    // The marker may straddle two reads: the last bytes of the previous one are searched with the next.
    let tail = Buffer.alloc(0);
    client.on("data", (chunk: Buffer) => {
      const seen = Buffer.concat([tail, chunk]);
      if (resets === 0 && seen.includes(needle)) {
        resets++;
        upstream.destroy();
        client.resetAndDestroy();
        return;
      }
      tail = seen.subarray(Math.max(0, seen.length - needle.length + 1));
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    upstream.on("end", () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    resets: () => resets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// A connection reset is a socket error, which PGlite (in process) has no way to have.
describe("a connection reset in the middle of a shared INSERT, on postgres", () => {
  let database: Database;
  let proxy: Awaited<ReturnType<typeof resettingProxy>>;
  let viaProxy: Database;
  beforeAll(async () => {
    database = await createTestDatabase("postgres");
    proxy = await resettingProxy("reset me");
    const url = new URL(database.location);
    url.port = String(proxy.port);
    viaProxy = await openDatabase({ kind: "postgres", url: url.toString() });
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await viaProxy.close();
    await proxy.close();
    await database.close();
  }, HOOK_TIMEOUT);

  it("fails every entry of that INSERT (503) and tries none again: an error without a SQLSTATE may have committed", async () => {
    await resetAuditLog(database.db);
    const results = await Promise.allSettled(
      Array.from({ length: AT_ONCE }, (_, i) => appendAudit(viaProxy.db, writeEntry({ reason: i === AT_ONCE - 1 ? "reset me" : `entry ${i}` }), systemClock)),
    );
    expect(proxy.resets()).toBe(1);
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [i] : []));
    // The marked entry arrived last, behind the ones in flight, so it went in a shared INSERT with others; all of them fail.
    expect(failed).toContain(AT_ONCE - 1);
    expect(failed.length).toBeGreaterThan(1);
    for (const i of failed) {
      const reason = (results[i] as PromiseRejectedResult).reason as AuditWriteFailed;
      expect(reason).toBeInstanceOf(AuditWriteFailed);
      expect((reason.cause as { code?: string }).code).toBe("ECONNRESET");
      expect(reason.toProblem().status).toBe(503);
    }
    // Nothing of the reset INSERT reached the database, and none of its entries was written again on its own.
    const rows = await rowsByReason(database);
    expect(rows.map((r) => r.reason)).not.toContain("reset me");
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    const acknowledged = results.flatMap((r) => (r.status === "fulfilled" ? [r.value.id] : []));
    expect(rows.map((r) => r.id).sort()).toEqual(acknowledged.sort());
    expect(rows).toHaveLength(AT_ONCE - failed.length);
  });
});
