import { readFileSync, mkdtempSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FileEventStore, ImpersonationKit, type EventBufferOptions } from "../../../kit/src/index.js";
import { auditOf, useHarness } from "../actions/harness.js";
import { databaseKinds } from "../support/databases.js";
import { addProduct, endAllSessions, openedSession, startLinkedApp, STEWARD_UNAVAILABLE, type TestProduct } from "./support.js";

/**
 * The real kit against the real app across a restart of the product: events it recorded and Steward did not
 * store (Steward unreachable, or its answer lost) are in the kit's file store, and the next kit on that store
 * sends them; Steward holds each once. A crash in the middle of a write loses at most that event.
 */
describe.each(databaseKinds)("kit events across a product restart on %s", (kind) => {
  let product: TestProduct;
  const h = useHarness(kind, {
    env: { IMPERSONATION_IDLE_MINUTES: "15" },
    arrange: async (harness) => {
      product = await addProduct(harness);
    },
  });
  beforeEach(() => endAllSessions(h));

  let linkUrl = "";
  let closeLink = () => {};
  /** The link between product and Steward: passes, is down (503 without passing on), or loses Steward's answer (stored, then 503). */
  let mode: "pass" | "down" | "lose" = "pass";
  beforeAll(async () => {
    const linked = await startLinkedApp(h, async (req, forward) => {
      if (mode === "down") return STEWARD_UNAVAILABLE;
      const answer = await forward();
      return mode === "lose" && req.method === "POST" ? STEWARD_UNAVAILABLE : answer;
    });
    linkUrl = linked.url;
    closeLink = linked.close;
  });
  afterAll(() => closeLink());
  beforeEach(() => {
    mode = "pass";
  });

  const opened = (offset: number) => openedSession(h, product, offset, "1004");

  /** A kit of the product's process: its events in the file store under `dir`. */
  function kitOn(dir: string, events: EventBufferOptions = {}, errors: unknown[] = []) {
    const store = new FileEventStore(dir);
    const kit = new ImpersonationKit({ stewardUrl: linkUrl, credential: product.credential, events: { flushIntervalMs: 60_000, baseBackoffMs: 60_000, ...events, store }, onError: (err) => errors.push(err) });
    return { kit, store };
  }

  /** What Steward holds for the session: each event once (audit and table agree), the kit's reports apart. */
  async function recorded(sid: string, userId: string) {
    const audit = (await auditOf(h.deps, "impersonation.event", userId)).map((e) => e.after as { sessionId: string; eventId: string; route: string; detail: string | null; occurredAt: string; afterEnd: boolean }).filter((a) => a.sessionId === sid);
    const rows = await h.deps.database.db.selectFrom("impersonation_events").select("event_id").where("session_id", "=", sid).execute();
    expect(rows.map((r) => r.event_id).sort()).toEqual(audit.map((a) => a.eventId).sort());
    expect(new Set(audit.map((a) => a.eventId)).size).toBe(audit.length);
    return { events: audit.filter((a) => !a.route.startsWith("kit: ")), routes: audit.filter((a) => !a.route.startsWith("kit: ")).map((a) => a.route).sort(), reports: audit.filter((a) => a.route.startsWith("kit: ")) };
  }

  const at = () => h.deps.clock.now().toISOString();
  const routes = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `GET /${prefix}/${String(i).padStart(3, "0")}`).sort();
  const dirOf = () => mkdtempSync(join(tmpdir(), "kit-restart-"));
  /** What the store on `dir` holds, read as the next process would at start; the directory is let go again. */
  const pendingIn = (dir: string) => {
    const store = new FileEventStore(dir);
    try {
      return store.load();
    } finally {
      store.close();
    }
  };

  it("events Steward did not store (unreachable, or its answer lost) are sent by the next process on the same store after the session ended: each stored once", async () => {
    const dir = dirOf();
    const { sid, user } = await opened(40);
    const first = kitOn(dir);
    const record = (i: number) => first.kit.record(sid, { method: "GET", route: `GET /restart/${String(i).padStart(3, "0")}`, object: null, outcome: "succeeded", status: 200, detail: null, occurredAt: at() });
    // Stored by Steward, the answer lost: the kit cannot know, they stay in its store.
    mode = "lose";
    for (let i = 0; i < 3; i++) record(i);
    await first.kit.flush();
    expect((await recorded(sid, user.id)).routes).toEqual(routes("restart", 3));
    // Steward unreachable: never stored.
    mode = "down";
    for (let i = 3; i < 8; i++) record(i);
    await first.kit.flush();
    expect(first.kit.pendingEvents(sid)).toBe(8);
    // The product stops (a deploy) while Steward is still out of reach; the session ends meanwhile.
    await first.kit.close();
    await endAllSessions(h);

    mode = "pass";
    const errors: unknown[] = [];
    const second = kitOn(dir, {}, errors);
    try {
      expect(second.kit.pendingEvents(sid)).toBe(8);
      await second.kit.flush();
      const held = await recorded(sid, user.id);
      expect(held.routes).toEqual(routes("restart", 8));
      // Those that happened while it was live are taken after its end, flagged so.
      expect(held.events.filter((e) => e.afterEnd).map((e) => e.route).sort()).toEqual(routes("restart", 8).slice(3));
      expect(held.reports).toEqual([]);
      expect(second.kit.pendingEvents()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await second.kit.close();
    }
    expect(pendingIn(dir).size).toBe(0);
  });

  it("a crash in the middle of writing an event (the journal's last line cut short) loses at most that event and reports nothing false", async () => {
    const dir = dirOf();
    const { sid, user } = await opened(41);
    mode = "down";
    const first = kitOn(dir);
    for (let i = 0; i < 5; i++) first.kit.record(sid, { method: "GET", route: `GET /torn/${String(i).padStart(3, "0")}`, object: null, outcome: "succeeded", status: 200, detail: null, occurredAt: at() });
    await first.kit.close();
    const journal = join(dir, "events.jsonl");
    truncateSync(journal, readFileSync(journal).length - 30);

    mode = "pass";
    const second = kitOn(dir);
    try {
      await second.kit.flush();
      expect(second.store.skipped).toBe(1);
      const held = await recorded(sid, user.id);
      expect(held.routes).toEqual(routes("torn", 4));
      expect(held.reports).toEqual([]);
      expect(second.kit.pendingEvents()).toBe(0);
    } finally {
      await second.kit.close();
    }
  });

  it("events dropped from the full buffer before the restart are reported after it; the rest are stored once", async () => {
    const dir = dirOf();
    const { sid, user } = await opened(42);
    mode = "down";
    const first = kitOn(dir, { maxBuffered: 5 });
    for (let i = 0; i < 8; i++) first.kit.record(sid, { method: "GET", route: `GET /full/${String(i).padStart(3, "0")}`, object: null, outcome: "succeeded", status: 200, detail: null, occurredAt: at() });
    await first.kit.close();

    mode = "pass";
    const second = kitOn(dir, { maxBuffered: 5 });
    try {
      await second.kit.flush();
      const held = await recorded(sid, user.id);
      expect(held.routes).toEqual(routes("full", 8).slice(3));
      expect(held.reports.map((r) => r.detail)).toEqual(["3 events were dropped while Steward was unreachable"]);
    } finally {
      await second.kit.close();
    }
  });

  it("an event Steward refuses after the restart (outside the session's lifetime) is reported lost, dated at the session's start", async () => {
    const dir = dirOf();
    const realNow = new Date();
    // The session ran two hours ago (30 minutes): a report dated at this machine's now would be refused too.
    h.deps.clock.set(new Date(realNow.getTime() - 2 * 3600_000));
    try {
      const { sid, user } = await opened(43);
      const first = kitOn(dir);
      // The product knows the session (as on every request the kit lets through), then loses Steward.
      await first.kit.lookup(sid);
      mode = "down";
      first.kit.record(sid, { method: "GET", route: "GET /early/000", object: null, outcome: "succeeded", status: 200, detail: null, occurredAt: new Date(h.deps.clock.now().getTime() - 3600_000).toISOString() });
      await first.kit.close();
      h.deps.clock.set(realNow);

      mode = "pass";
      const second = kitOn(dir);
      try {
        await second.kit.flush();
        const held = await recorded(sid, user.id);
        expect(held.routes).toEqual([]);
        expect(held.reports).toHaveLength(1);
        expect(held.reports[0]).toMatchObject({ route: "kit: events refused by Steward" });
        expect(held.reports[0]!.detail).toContain("GET /early/000");
        const session = await h.deps.database.db.selectFrom("impersonation_sessions").select("started_at").where("id", "=", sid).executeTakeFirstOrThrow();
        expect(Date.parse(held.reports[0]!.occurredAt)).toBe(new Date(session.started_at).getTime());
      } finally {
        await second.kit.close();
      }
      expect(pendingIn(dir).size).toBe(0);
    } finally {
      h.deps.clock.set(realNow);
    }
  });
});
