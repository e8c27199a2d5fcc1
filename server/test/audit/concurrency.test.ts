import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendAudit } from "../../src/audit/auditLog.js";
import { verifyAuditChain } from "../../src/audit/verifyChain.js";
import { systemClock } from "../../src/clock.js";
import type { Database } from "../../src/db/database.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";
import { agent, HOOK_TIMEOUT, seqs, writeEntry } from "./fixtures.js";

const WRITERS = 8;
const PER_WRITER = 500;

describe.each(databaseKinds)("concurrent appends on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    // PostgreSQL: a real pool of 12 connections, so the 8 writers really run at once.
    database = await createTestDatabase(kind);
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await database.close();
  }, HOOK_TIMEOUT);

  it(`${WRITERS} writers × ${PER_WRITER} entries form one valid, gap-free chain`, { timeout: 600_000 }, async () => {
    const writer = async (w: number) => {
      for (let i = 0; i < PER_WRITER; i++) {
        // Half the appends ride in a caller's transaction with other work, as commands do.
        if (i % 2 === 0) {
          await appendAudit(database.db, writeEntry({ actor: agent(w), reason: `writer ${w} entry ${i}` }), systemClock);
        } else {
          await database.db.transaction().execute(async (trx) => {
            await trx.selectFrom("staff").select("id").limit(1).execute();
            await appendAudit(trx, writeEntry({ actor: agent(w), reason: `writer ${w} entry ${i}` }), systemClock);
          });
        }
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w + 1)));

    const all = await seqs(database.db);
    expect(all.length).toBe(WRITERS * PER_WRITER);
    expect(all).toEqual(Array.from({ length: WRITERS * PER_WRITER }, (_, i) => i + 1));
    expect(await verifyAuditChain(database.db)).toMatchObject({ ok: true, entries: WRITERS * PER_WRITER, headSeq: WRITERS * PER_WRITER });
    const perWriter = await database.db.selectFrom("audit_log").select(["actor_staff_id", (eb) => eb.fn.countAll<number>().as("n")]).groupBy("actor_staff_id").execute();
    expect(perWriter.map((r) => Number(r.n))).toEqual(Array(WRITERS).fill(PER_WRITER));
  });

  it("rolled-back appends racing committed ones leave no gaps", { timeout: 120_000 }, async () => {
    const start = (await seqs(database.db)).length;
    const attempts = Array.from({ length: 40 }, (_, i) =>
      database.db
        .transaction()
        .execute(async (trx) => {
          await appendAudit(trx, writeEntry({ reason: `attempt ${i}` }), systemClock);
          if (i % 3 === 0) throw new Error("rolled back");
        })
        .then(
          () => "committed",
          () => "rolled back",
        ),
    );
    const results = await Promise.all(attempts);
    const committed = results.filter((r) => r === "committed").length;
    expect(committed).toBe(26);
    expect(await seqs(database.db)).toEqual(Array.from({ length: start + committed }, (_, i) => i + 1));
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });
});
