import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ImpersonationKit, type EventBufferOptions } from "../../../kit/src/index.js";
import { auditOf, useHarness } from "../actions/harness.js";
import { databaseKinds } from "../support/databases.js";
import { addProduct, endAllSessions, openedSession, startLinkedApp, STEWARD_UNAVAILABLE, type TestProduct } from "./support.js";

/**
 * The real kit sending its events to the real app: batches Steward cannot take whole (413 past its 64 KiB body
 * limit, 400 naming no single event) are split until each part is stored or is one event, which is reported.
 * A filter in front of Steward (a WAF's HTML 400) stands between them where Steward itself never refuses so.
 */

/** Steward's body limit (express.json in app.ts). */
const BODY_LIMIT = 64 * 1024;

describe.each(databaseKinds)("kit event batches on %s", (kind) => {
  let product: TestProduct;
  const h = useHarness(kind, {
    env: { IMPERSONATION_IDLE_MINUTES: "15" },
    arrange: async (harness) => {
      product = await addProduct(harness);
    },
  });
  beforeEach(() => endAllSessions(h));

  let appUrl = "";
  let filterUrl = "";
  let closeLink = () => {};
  /** Request bodies the filter refuses with its own HTML 400 (no problem+json, no field named). */
  let refusedByFilter: (body: string) => boolean = () => false;
  /** While set, the filter holds Steward's answer (a slow link), or answers 503 without passing the request on. */
  let held: { answer: Promise<void>; arrived: () => void; fail: boolean } | null = null;
  beforeAll(async () => {
    const linked = await startLinkedApp(h, async (req, forward) => {
      if (refusedByFilter(req.body)) return { status: 400, contentType: "text/html", body: "<html><body><h1>400 Bad Request</h1>Request blocked</body></html>" };
      const hold = held;
      held = null;
      hold?.arrived();
      if (hold?.fail) {
        await hold.answer;
        return STEWARD_UNAVAILABLE;
      }
      const answer = await forward();
      await hold?.answer;
      return answer;
    });
    ({ url: filterUrl, appUrl } = linked);
    closeLink = linked.close;
  });
  afterAll(() => closeLink());

  const opened = (offset: number) => openedSession(h, product, offset, "1003");

  function kitFor(url: string, events: EventBufferOptions, errors: unknown[]) {
    return new ImpersonationKit({ stewardUrl: url, credential: product.credential, events: { flushIntervalMs: 60_000, ...events }, onError: (err) => errors.push(err) });
  }

  /** What Steward holds for the session: each event once (audit and table agree), the kit's reports apart. */
  async function recorded(sid: string, userId: string) {
    const audit = (await auditOf(h.deps, "impersonation.event", userId)).map((e) => e.after as { sessionId: string; eventId: string; route: string; status: number | null; detail: string | null }).filter((a) => a.sessionId === sid);
    const rows = await h.deps.database.db.selectFrom("impersonation_events").select("event_id").where("session_id", "=", sid).execute();
    expect(rows.map((r) => r.event_id).sort()).toEqual(audit.map((a) => a.eventId).sort());
    expect(new Set(audit.map((a) => a.eventId)).size).toBe(audit.length);
    return { routes: audit.filter((a) => !a.route.startsWith("kit: ")).map((a) => a.route).sort(), reports: audit.filter((a) => a.route.startsWith("kit: ")) };
  }

  const at = () => h.deps.clock.now().toISOString();
  const routes = (prefix: string, n: number, skip?: number) => Array.from({ length: n }, (_, i) => `GET /${prefix}/${String(i).padStart(3, "0")}`).filter((_, i) => i !== skip).sort();

  it("a batch past Steward's body limit (413) is sent in halves; an event too large alone is reported lost with why; nothing twice", async () => {
    const errors: unknown[] = [];
    // The kit's own byte budget set past Steward's limit (as for a Steward behind a proxy that takes less): Steward's 413 decides.
    const kit = kitFor(appUrl, { batchSize: 100, batchBytes: 1024 * 1024 }, errors);
    try {
      const { sid, user } = await opened(30);
      // About 1.8 KB each: 60 of them are some 110 KB, past the limit; halves of them are not.
      const detail = "ü".repeat(499);
      for (let i = 0; i < 61; i++) {
        const big = i === 45;
        kit.record(sid, { method: big ? "X".repeat(BODY_LIMIT + 1000) : "GET", route: `GET /${big ? "big" : "many"}/${String(i).padStart(3, "0")}`, object: "é".repeat(299), outcome: "succeeded", status: 200, detail, occurredAt: at() });
      }
      await kit.flush();
      const held = await recorded(sid, user.id);
      expect(held.routes).toEqual(routes("many", 61, 45));
      expect(held.reports).toHaveLength(1);
      expect(held.reports[0]).toMatchObject({ route: "kit: events refused by Steward", status: 413 });
      expect(held.reports[0]!.detail).toContain("GET /big/045");
      expect(held.reports[0]!.detail).toContain("413");
      expect(errors.length).toBeGreaterThan(1);
      expect(errors.every((e) => (e as { status?: number }).status === 413)).toBe(true);
      expect(kit.pendingEvents()).toBe(0);
    } finally {
      await kit.close();
    }
  });

  it("a batch Steward refuses whole without naming one event (more events than it takes) is sent in halves", async () => {
    const errors: unknown[] = [];
    const kit = kitFor(appUrl, { batchSize: 150 }, errors);
    try {
      const { sid, user } = await opened(31);
      for (let i = 0; i < 120; i++) kit.record(sid, { method: "GET", route: `GET /lot/${String(i).padStart(3, "0")}`, object: null, outcome: "succeeded", status: 200, detail: null, occurredAt: at() });
      await kit.flush();
      const held = await recorded(sid, user.id);
      expect(held.routes).toEqual(routes("lot", 120));
      expect(held.reports).toEqual([]);
      // Steward's refusal named the list, not an event of it.
      expect(errors).toEqual([expect.objectContaining({ status: 400, errors: [expect.objectContaining({ field: "body.events" })] })]);
    } finally {
      await kit.close();
    }
  });

  it("a 400 naming no event (a filter in front of Steward) is narrowed down to the event behind it: only that one is taken out and reported", async () => {
    const errors: unknown[] = [];
    const kit = kitFor(filterUrl, {}, errors);
    refusedByFilter = (body) => body.includes("DROP TABLE");
    try {
      const { sid, user } = await opened(32);
      for (let i = 0; i < 9; i++) kit.record(sid, { method: "GET", route: `GET /few/${String(i).padStart(3, "0")}`, object: i === 6 ? "project:1; DROP TABLE projects" : null, outcome: "succeeded", status: 200, detail: null, occurredAt: at() });
      await kit.flush();
      const held = await recorded(sid, user.id);
      expect(held.routes).toEqual(routes("few", 9, 6));
      expect(held.reports).toHaveLength(1);
      expect(held.reports[0]).toMatchObject({ route: "kit: events refused by Steward", status: 400 });
      expect(held.reports[0]!.detail).toContain("GET /few/006");
      expect(errors.length).toBeGreaterThan(1);
      expect(errors.every((e) => (e as { status?: number; errors?: unknown[] }).status === 400 && (e as { errors: unknown[] }).errors.length === 0)).toBe(true);
    } finally {
      refusedByFilter = () => false;
      await kit.close();
    }
  });

  /** Holds the next request at the filter: resolves once it arrived, with a function that lets its answer go. */
  function holdNext(fail = false) {
    let release = () => {};
    let arrived = () => {};
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    held = { answer: new Promise<void>((resolve) => (release = resolve)), arrived, fail };
    return { reached, release };
  }

  it("events pushed out of a full buffer while their batch is on its way are not dropped when Steward stores it; unsent ones pushed out are", async () => {
    const kit = kitFor(filterUrl, { maxBuffered: 10, batchSize: 5 }, []);
    try {
      const { sid, user } = await opened(33);
      const record = (i: number) => kit.record(sid, { method: "GET", route: `GET /full/${String(i).padStart(3, "0")}`, object: null, outcome: "succeeded", status: 200, detail: null, occurredAt: at() });
      for (let i = 0; i < 10; i++) record(i);
      const hold = holdNext();
      const flushed = kit.flush();
      await hold.reached;
      // 0…4 are on their way; eight more push 0…4 (on their way) and 5…7 (never sent) out of the full buffer.
      for (let i = 10; i < 18; i++) record(i);
      hold.release();
      await flushed;
      await kit.flush();
      const stored = await recorded(sid, user.id);
      expect(stored.routes).toEqual(routes("full", 18).filter((r) => !["GET /full/005", "GET /full/006", "GET /full/007"].includes(r)));
      expect(stored.reports.map((r) => r.detail)).toEqual(["3 events were dropped while Steward was unreachable"]);
      expect(kit.pendingEvents()).toBe(0);
    } finally {
      await kit.close();
    }
  });

  it("events pushed out while their batch is on its way count as dropped when it gets no answer: as ones Steward may hold", async () => {
    const kit = kitFor(filterUrl, { maxBuffered: 10, batchSize: 5, baseBackoffMs: 60_000 }, []);
    try {
      const { sid, user } = await opened(34);
      const record = (i: number) => kit.record(sid, { method: "GET", route: `GET /lost/${String(i).padStart(3, "0")}`, object: null, outcome: "succeeded", status: 200, detail: null, occurredAt: at() });
      for (let i = 0; i < 10; i++) record(i);
      const hold = holdNext(true);
      const flushed = kit.flush();
      await hold.reached;
      for (let i = 10; i < 13; i++) record(i);
      hold.release();
      await flushed;
      await kit.flush();
      const stored = await recorded(sid, user.id);
      expect(stored.routes).toEqual(routes("lost", 13).slice(3));
      expect(stored.reports.map((r) => r.detail)).toEqual(["3 events sent without an answer were dropped (Steward may hold them)"]);
    } finally {
      await kit.close();
    }
  });
});
