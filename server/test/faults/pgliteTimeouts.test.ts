import { sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/database.js";
import { databaseFault } from "../../src/db/databaseFaults.js";
import { toProblem } from "../../src/http/problem.js";

/**
 * PGlite's statement_timeout never fires (measured: `set statement_timeout = 200; select pg_sleep(2)`
 * runs the full 2 s) and a statement blocks the event loop, so the dialect bounds how long one holder
 * keeps the single connection. These run on PGlite only: PostgreSQL has its real statement_timeout
 * (server/test/faults/databaseFaults.test.ts).
 */
const LIMIT_MS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("PGlite statement timeout (dialect level)", () => {
  let database: Database | undefined;
  beforeAll(async () => {
    database = await openDatabase({ kind: "pglite", dataDir: "memory", limits: { statementTimeoutMs: LIMIT_MS, lockTimeoutMs: 1_000, connectTimeoutMs: 5_000 } });
    await sql`create table t (id int primary key)`.execute(database.db);
  }, 120_000);
  afterAll(async () => {
    await database?.close();
  });
  beforeEach(async () => {
    await sql`delete from t`.execute(database!.db);
  });
  const open = async (): Promise<Database> => database!;

  it("PGlite itself ignores statement_timeout (why the dialect does it)", async () => {
    const { db } = await open();
    await db.connection().execute(async (c) => {
      await sql`set statement_timeout = 100`.execute(c);
      const started = Date.now();
      await sql`select pg_sleep(0.4)`.execute(c);
      expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    });
  });

  it("a transaction that holds the connection idle past the limit is rolled back, its commit fails with a 503, and a waiter gets the connection at the limit", async () => {
    const { db } = await open();
    const holder = db.transaction().execute(async (trx) => {
      await sql`insert into t values (1)`.execute(trx);
      await sleep(LIMIT_MS * 4);
      await sql`insert into t values (2)`.execute(trx);
    });
    const settled = holder.then(
      () => null,
      (err: unknown) => err,
    );
    await sleep(20);
    const waitedFrom = Date.now();
    const rows = await sql<{ n: number }>`select count(*)::int as n from t`.execute(db);
    const waited = Date.now() - waitedFrom;
    // The waiter ran once the holder's turn was taken away, not after the holder's 1.2 s.
    expect(waited).toBeGreaterThanOrEqual(LIMIT_MS - 50);
    expect(waited).toBeLessThan(LIMIT_MS * 3);
    expect(rows.rows[0]!.n).toBe(0);
    const err = await settled;
    expect(err).toBeInstanceOf(Error);
    expect(databaseFault(err)).toBe("timeout");
    const problem = toProblem(err);
    expect(problem.status).toBe(503);
    // Nothing of the holder's transaction stayed, and the connection works.
    expect((await sql<{ n: number }>`select count(*)::int as n from t`.execute(db)).rows[0]!.n).toBe(0);
    await db.insertInto("t" as never).values({ id: 3 } as never).execute();
    expect((await sql<{ n: number }>`select count(*)::int as n from t`.execute(db)).rows[0]!.n).toBe(1);
  });

  it("a statement inside a transaction that runs past the limit fails with 57014 and its transaction is rolled back; outside one it stands", async () => {
    const { db } = await open();
    const err = await db
      .transaction()
      .execute(async (trx) => {
        await sql`insert into t values (10)`.execute(trx);
        await sql`select pg_sleep(${(LIMIT_MS * 2) / 1000})`.execute(trx);
        await sql`insert into t values (11)`.execute(trx);
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect((err as { code?: string }).code).toBe("57014");
    expect(databaseFault(err)).toBe("timeout");
    expect((await sql<{ n: number }>`select count(*)::int as n from t`.execute(db)).rows[0]!.n).toBe(0);
    // Autocommit: the slow statement has already taken effect, so it is not reported as failed.
    await sql`insert into t select 20 from pg_sleep(${(LIMIT_MS * 2) / 1000})`.execute(db);
    expect((await sql<{ n: number }>`select count(*)::int as n from t`.execute(db)).rows[0]!.n).toBe(1);
  });

  it("short statements and transactions with short gaps are never cut off", async () => {
    const { db } = await open();
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < 6; i++) {
        await sql`insert into t values (${100 + i})`.execute(trx);
        await sleep(LIMIT_MS / 3);
      }
    });
    expect((await sql<{ n: number }>`select count(*)::int as n from t`.execute(db)).rows[0]!.n).toBe(6);
  });
});
