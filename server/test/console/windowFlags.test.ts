import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flagParams, LOOKUP_ACTIONS } from "../../../shared/flags.js";
import type { ActionName } from "../../../shared/actions.js";
import { appendAudit } from "../../src/audit/auditLog.js";
import type { ManualClock } from "../../src/clock.js";
import { overview, type ExplorerScope } from "../../src/console/explorer.js";
import { flagCondition } from "../../src/console/flagSql.js";
import type { AppDeps } from "../../src/deps.js";
import { createTestDeps, databaseKinds } from "../support/databases.js";

const MINUTE = 60_000;
const NOW = new Date("2026-03-20T12:00:00.000Z");
const hours = { timeZone: "UTC", days: [1, 2, 3, 4, 5], startMinute: 480, endMinute: 1080 };

/**
 * The start screen counts the window flags with a window function (explorer.ts) instead of flagSql's
 * subquery per entry. Both must agree entry for entry: random lookups and denials by a few agents, plus
 * the edges (an entry exactly `minutes` before another, several at the same instant, entries just before
 * the 30-day range that count towards the first ones inside it).
 */
describe.each(databaseKinds)("window flag counts on the console's start screen on %s", (kind) => {
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

    await deps.database.db.transaction().execute(async (trx) => {
      for (const [i, t] of times.entries()) {
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
    deps.clock.set(NOW);
  }, 180_000);
  afterAll(async () => {
    await deps.database.close();
  });

  const perEntry = async (flag: "lookup_burst" | "repeated_denials", scope: ExplorerScope) => {
    const shown = scope.visibility.kind === "all" ? sql`true` : sql`(actor_staff_id = ${scope.visibility.staffId} or ticket_id in (select ticket_id from audit_log mine where mine.actor_staff_id = ${scope.visibility.staffId} and mine.ticket_id is not null))`;
    const { rows } = await sql<{ n: string }>`select count(*) as n from audit_log
      where occurred_at >= ${from} and occurred_at < ${new Date(Date.UTC(2026, 2, 21))} and ${shown} and ${flagCondition(flag, hours)}`.execute(deps.database.db);
    return Number(rows[0]?.n);
  };

  it.each([
    ["everything (operations and admin)", { kind: "all" } as const],
    ["an agent's own view (support)", { kind: "own", staffId: "stf_w_0" } as const],
  ])("counts exactly the entries the per-entry rule flags: %s", async (_label, visibility) => {
    const scope: ExplorerScope = { visibility, hours };
    const o = await overview(deps.database.db, scope, NOW, 30);
    for (const flag of ["lookup_burst", "repeated_denials"] as const) {
      const expected = await perEntry(flag, scope);
      if (visibility.kind === "all") expect(expected, flag).toBeGreaterThan(0);
      expect(o.flags.find((f) => f.id === flag)?.count, flag).toBe(expected);
    }
  });
});
