import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flagParams, LOOKUP_ACTIONS } from "../../../shared/flags.js";
import type { ActionName } from "../../../shared/actions.js";
import { appendAudit } from "../../src/audit/auditLog.js";
import type { ManualClock } from "../../src/clock.js";
import { sealPending } from "../../src/audit/sealer.js";
import { explorerPage, overview, type ExplorerScope } from "../../src/console/explorer.js";
import { flagPending } from "../../src/console/flagger.js";
import type { AppDeps } from "../../src/deps.js";
import { asSuperuser } from "../audit/fixtures.js";
import { createTestDeps, databaseKinds } from "../support/databases.js";

const MINUTE = 60_000;
const NOW = new Date("2026-03-20T12:00:00.000Z");
const hours = { timeZone: "UTC", days: [1, 2, 3, 4, 5], startMinute: 480, endMinute: 1080 };

/**
 * The rule itself, one entry at a time, as the oracle: at least `count` entries of the same agent matching
 * `what` in the `minutes` up to this one, this one included (the window's lower end exclusive).
 */
function ruleHolds(flag: "lookup_burst" | "repeated_denials") {
  const rule = flag === "lookup_burst" ? flagParams.lookupBurst : flagParams.repeatedDenials;
  const lookups = sql.join(LOOKUP_ACTIONS.map((a) => sql.lit(a)));
  const self = flag === "lookup_burst" ? sql`audit_log.action in (${lookups})` : sql`audit_log.outcome = 'denied'`;
  const what = flag === "lookup_burst" ? sql`w.action in (${lookups})` : sql`w.outcome = 'denied'`;
  return sql`(audit_log.actor_staff_id is not null and ${self} and (select count(*) from audit_log w
      where w.actor_staff_id = audit_log.actor_staff_id and ${what}
        and w.occurred_at > audit_log.occurred_at - make_interval(mins => ${sql.lit(rule.minutes)}) and w.occurred_at <= audit_log.occurred_at) >= ${sql.lit(rule.count)})`;
}

/**
 * The window flags are stored as entries are sealed (console/flagger.ts), and entries commit out of time
 * order: a late one changes its agent's later entries. Random lookups and denials by a few agents arrive
 * in shuffled batches, each sealed and flagged before the next, plus the edges (an entry exactly `minutes`
 * before another, several at the same instant, entries just before the 30-day range that count towards
 * the first ones inside it). The stored flags, the start screen's counts and the flag's explorer page must
 * agree entry for entry with the rule evaluated on the whole log at the end.
 */
describe.each(databaseKinds)("stored window flags on %s", (kind) => {
  let deps: AppDeps & { clock: ManualClock };
  const from = new Date(Date.UTC(2026, 2, 20) - 29 * 86_400_000);

  beforeAll(async () => {
    deps = await createTestDeps(kind, { seed: false });
    let state = 7;
    const random = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const times: { at: number; agent: number; kind: "lookup" | "denial" }[] = [];
    // Bursts: clusters of entries by one agent, some dense enough to raise the flag and some not.
    for (let c = 0; c < 40; c++) {
      const agent = c % 3;
      const start = from.getTime() - 20 * MINUTE + Math.floor(random() * 30 * 86_400_000);
      const kindOf = c % 2 === 0 ? "lookup" : "denial";
      const rule = kindOf === "lookup" ? flagParams.lookupBurst : flagParams.repeatedDenials;
      const n = rule.count - 2 + Math.floor(random() * 6);
      const spread = rule.minutes * MINUTE * (0.5 + random());
      for (let i = 0; i < n; i++) times.push({ at: start + Math.floor(random() * spread), agent, kind: kindOf });
    }
    // Edges: one entry exactly `minutes` before the others (it no longer counts: not flagged), and several
    // at the same instant (each counts the others).
    const edge = from.getTime() + 3 * 86_400_000;
    times.push({ at: edge, agent: 1, kind: "denial" });
    for (let i = 1; i < flagParams.repeatedDenials.count; i++) times.push({ at: edge + flagParams.repeatedDenials.minutes * MINUTE, agent: 1, kind: "denial" });
    for (let i = 0; i < flagParams.lookupBurst.count; i++) times.push({ at: edge + 7 * 86_400_000, agent: 2, kind: "lookup" });
    // Just before the range: they count towards the first entries inside it.
    for (let i = 0; i < flagParams.repeatedDenials.count; i++) times.push({ at: from.getTime() - (flagParams.repeatedDenials.count - i) * MINUTE, agent: 0, kind: "denial" });

    const order = times.map((t, i) => ({ t, i, key: random() }));
    order.sort((a, b) => a.key - b.key);
    for (let batch = 0; batch < order.length; batch += 25) {
      await deps.database.db.transaction().execute(async (trx) => {
        for (const { t, i } of order.slice(batch, batch + 25)) {
        deps.clock.set(new Date(t.at));
        const lookup = LOOKUP_ACTIONS[i % LOOKUP_ACTIONS.length] as ActionName;
        await appendAudit(
          trx,
          {
            actor: { kind: "staff", staffId: `stf_w_${t.agent}`, zendeskUserId: String(70_000 + t.agent), email: null, name: null, panelRole: "support_full" },
            action: t.kind === "lookup" ? lookup : "user.suspend",
            target: { type: "user", id: "usr_w", accountId: "acc_w" },
            // Agent 2's entries are on tickets agent 0 also worked: a restricted view sees some of them.
            ticketId: t.agent === 2 && i % 2 === 0 ? "5001" : t.agent === 0 ? "5001" : `52${i}`,
            outcome: t.kind === "denial" ? "denied" : "succeeded",
            error: t.kind === "denial" ? "forbidden: role too low" : null,
          },
          deps.clock,
        );
        }
      });
      await sealPending(deps.database.db, deps.auditKeys, { now: () => deps.clock.now() });
      // Small rounds: one batch of entries is flagged over several rounds.
      await flagPending(deps.database.db, { batchSize: 7 });
    }
    // Agent 0's checked write on 5001 (its lookups and refusals there do not count): their view takes in agent 2's entries on it.
    deps.clock.set(new Date(edge + 86_400_000));
    const requester = { id: "1", email: "w@example.test", externalId: null, organizationId: null, name: null };
    await appendAudit(
      deps.database.db,
      {
        actor: { kind: "staff", staffId: "stf_w_0", zendeskUserId: "70000", email: null, name: null, panelRole: "support_full" },
        action: "user.suspend",
        target: { type: "user", id: "usr_w", accountId: "acc_w" },
        ticketId: "5001",
        ticketSnapshot: { id: "5001", subject: "w", status: "open", requester, assigneeId: null, match: "email", overrideReason: null, fetchedAt: new Date(edge).toISOString() },
        outcome: "succeeded",
      },
      deps.clock,
    );
    await sealPending(deps.database.db, deps.auditKeys, { now: () => deps.clock.now() });
    await flagPending(deps.database.db, { batchSize: 7 });
    deps.clock.set(NOW);
  }, 180_000);
  afterAll(async () => {
    await deps.database.close();
  });

  const shownSql = (scope: ExplorerScope) =>
    scope.visibility.kind === "all"
      ? sql`true`
      : sql`(actor_staff_id = ${scope.visibility.staffId} or ticket_id in (select ticket_id from audit_log mine where mine.actor_staff_id = ${scope.visibility.staffId}
          and mine.ticket_id is not null and mine.ticket_snapshot ->> 'match' in ('email', 'external_id', 'organization', 'domain', 'override')
          and mine.ticket_snapshot ->> 'id' = mine.ticket_id))`;
  const oracle = async (flag: "lookup_burst" | "repeated_denials", scope: ExplorerScope, range?: { from: Date; to: Date }) => {
    const inRange = range ? sql`occurred_at >= ${range.from} and occurred_at < ${range.to}` : sql`true`;
    const { rows } = await sql<{ seq: number }>`select seq from audit_log where ${inRange} and ${shownSql(scope)} and ${ruleHolds(flag)} order by occurred_at desc, seq desc`.execute(deps.database.db);
    return rows.map((r) => Number(r.seq));
  };

  it("stores exactly the entries the rule flags, whatever order they arrived in", async () => {
    for (const flag of ["lookup_burst", "repeated_denials"] as const) {
      const expected = await oracle(flag, { visibility: { kind: "all" }, hours });
      expect(expected.length, flag).toBeGreaterThan(10);
      const stored = await deps.database.db.selectFrom("audit_flag").select("entry_seq").where("flag", "=", flag).execute();
      expect(stored.map((r) => Number(r.entry_seq)).sort((a, b) => a - b), flag).toEqual([...expected].sort((a, b) => a - b));
    }
  });

  it("keeps the start screen's daily counts per agent and action group equal to counting the log", async () => {
    const o = await overview(deps.database.db, { visibility: { kind: "all" }, hours }, NOW, 30);
    const { rows } = await sql<{ day: string; actor: string | null; grp: string; n: string }>`
      select to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD') as day, actor_staff_id as actor, split_part(action, '.', 1) as grp, count(*) as n
      from audit_log where occurred_at >= ${from} and occurred_at < ${new Date(Date.UTC(2026, 2, 21))} group by 1, 2, 3`.execute(deps.database.db);
    const expectSeries = (key: (r: (typeof rows)[number]) => string | null) => {
      const m = new Map<string, number[]>();
      for (const r of rows) {
        const k = key(r);
        if (k === null) continue;
        const counts = m.get(k) ?? o.days.map(() => 0);
        counts[o.days.indexOf(r.day)] = (counts[o.days.indexOf(r.day)] ?? 0) + Number(r.n);
        m.set(k, counts);
      }
      return Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)));
    };
    const got = (series: { key: string; counts: number[] }[]) => Object.fromEntries(series.map((x) => [x.key, x.counts] as const).sort(([a], [b]) => a.localeCompare(b)));
    expect(rows.length).toBeGreaterThan(10);
    expect(got(o.byAgent)).toEqual(expectSeries((r) => r.actor));
    expect(got(o.byGroup)).toEqual(expectSeries((r) => r.grp));
  });

  it("counts writes outside working hours from quarter-hour buckets exactly as the rule on each write, in any time zone", async () => {
    const { flagCondition } = await import("../../src/console/flagSql.js");
    for (const h of [hours, { timeZone: "Asia/Kathmandu", days: [1, 2, 3, 4, 5], startMinute: 8 * 60 + 15, endMinute: 17 * 60 + 45 }, { timeZone: "America/New_York", days: [7, 1], startMinute: 0, endMinute: 600 }]) {
      const o = await overview(deps.database.db, { visibility: { kind: "all" }, hours: h }, NOW, 30);
      const { rows } = await sql<{ n: string }>`select count(*) as n from audit_log where occurred_at >= ${from} and occurred_at < ${new Date(Date.UTC(2026, 2, 21))} and ${flagCondition("outside_hours", h)}`.execute(deps.database.db);
      expect(Number(rows[0]?.n), h.timeZone).toBeGreaterThan(0);
      expect(o.flags.find((f) => f.id === "outside_hours")?.count, h.timeZone).toBe(Number(rows[0]?.n));
    }
  });

  it.each([
    ["everything (operations and admin)", { kind: "all" } as const],
    ["an agent's own view (support)", { kind: "own", staffId: "stf_w_0" } as const],
  ])("counts and pages exactly the entries the rule flags: %s", async (_label, visibility) => {
    const scope: ExplorerScope = { visibility, hours };
    const o = await overview(deps.database.db, scope, NOW, 30);
    for (const flag of ["lookup_burst", "repeated_denials"] as const) {
      const expected = await oracle(flag, scope, { from, to: new Date(Date.UTC(2026, 2, 21)) });
      if (visibility.kind === "all") expect(expected.length, flag).toBeGreaterThan(0);
      expect(o.flags.find((f) => f.id === flag)?.count, flag).toBe(expected.length);
      // The flag's explorer pages, newest first, keyset-paged through the stored flags.
      const all = await oracle(flag, scope);
      const seen: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await explorerPage(deps.database.db, { flag }, { order: "desc", limit: 10, ...(cursor ? { cursor } : {}) }, scope);
        seen.push(...page.entries.map((e) => e.seq));
        expect(page.entries.every((e) => e.flags.includes(flag))).toBe(true);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(seen, flag).toEqual(all);
    }
  });
});

describe.each(databaseKinds)("the flagger on %s", (kind) => {
  let deps: AppDeps & { clock: ManualClock };
  beforeAll(async () => {
    deps = await createTestDeps(kind, { seed: false });
  }, 180_000);
  afterAll(async () => {
    await deps.database.close();
  });

  it("goes past a sealed entry that is gone from the log, and flags the entries after it", async () => {
    const db = deps.database.db;
    const denial = async (minute: number) => {
      deps.clock.set(new Date(NOW.getTime() + minute * MINUTE));
      return appendAudit(
        db,
        {
          actor: { kind: "staff", staffId: "stf_gone", zendeskUserId: "71000", email: null, name: null, panelRole: "support_full" },
          action: "user.suspend",
          target: { type: "user", id: "usr_g", accountId: "acc_g" },
          ticketId: "5100",
          outcome: "denied",
          error: "forbidden: role too low",
        },
        deps.clock,
      );
    };
    const first = await denial(0);
    await sealPending(db, deps.auditKeys, { now: () => deps.clock.now() });
    // Deleted behind the triggers' back (what audit verify reports as a deletion).
    await asSuperuser(db, (su) => sql`delete from audit_log where seq = ${first.seq}`.execute(su));
    const later = [await denial(1), await denial(2), await denial(3)];
    await sealPending(db, deps.auditKeys, { now: () => deps.clock.now() });
    await flagPending(db, { batchSize: 1 });
    const head = await db.selectFrom("audit_seal").select((eb) => eb.fn.max("chain_seq").as("head")).executeTakeFirstOrThrow();
    const state = await db.selectFrom("audit_seal_state").select("flagged_through").executeTakeFirstOrThrow();
    expect(Number(state.flagged_through)).toBe(Number(head.head));
    const flagged = await db.selectFrom("audit_flag").select("entry_seq").where("flag", "=", "repeated_denials").orderBy("entry_seq").execute();
    // Three denials within the hour remain: the third raises the flag.
    expect(flagged.map((r) => Number(r.entry_seq))).toEqual([later[2]?.seq]);
  });
});
