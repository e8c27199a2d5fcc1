import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DirectoryLocked, EventBuffer, FileEventStore, type EventSink, type KitEvent } from "../src/index.js";

/** The event buffer's file store: what it acknowledged survives a restart, a line cut short is skipped, the journal stays small. */
const event = (i: number): KitEvent => ({ id: `e${i}`, method: "GET", route: `GET /x/${i}`, object: null, outcome: "succeeded", status: 200, detail: null, occurredAt: new Date(Date.UTC(2026, 10, 28, 12, 0, i)).toISOString() });
const dirOf = () => mkdtempSync(join(tmpdir(), "kit-store-"));

/** What a store on `dir` holds, read as the next process would at start; the directory is let go again. */
function pendingIn(dir: string) {
  const store = new FileEventStore(dir);
  try {
    return store.load();
  } finally {
    store.close();
  }
}

/** Like Steward: stores an event id once per session; `down` answers as an unreachable Steward. */
function fakeSteward() {
  const held = new Map<string, KitEvent[]>();
  const sink: EventSink & { down: boolean } = {
    down: false,
    async postEvents(sid, events) {
      if (sink.down) throw Object.assign(new Error("Steward is unreachable"), { status: 0, retryable: true });
      const list = held.get(sid) ?? [];
      for (const e of events) if (!list.some((h) => h.id === e.id)) list.push(e);
      held.set(sid, list);
    },
  };
  return { sink, held };
}

describe("FileEventStore", () => {
  it("gives back after a restart exactly what was recorded and not forgotten, per session, in order", () => {
    const dir = dirOf();
    const store = new FileEventStore(dir);
    expect(store.load().size).toBe(0);
    for (let i = 0; i < 5; i++) store.save("imp_a", { events: [event(i)] });
    store.save("imp_b", { events: [event(9)], startedAt: event(0).occurredAt });
    store.save("imp_a", { forget: ["e1", "e3"] });
    store.save("imp_a", { reports: [{ ...event(7), id: "dropped-1" }], dropped: null });
    store.save("imp_b", { forget: ["e9"], dropped: { count: 2, unconfirmed: 1, lastAt: event(9).occurredAt } });
    store.close();

    const again = pendingIn(dir);
    expect(again.get("imp_a")).toEqual({ events: [event(0), event(2), event(4)], reports: [{ ...event(7), id: "dropped-1" }], dropped: null, startedAt: null });
    expect(again.get("imp_b")).toEqual({ events: [], reports: [], dropped: { count: 2, unconfirmed: 1, lastAt: event(9).occurredAt }, startedAt: event(0).occurredAt });
  });

  it("skips a line a crash cut short (the last one), and the next line is not glued to it", () => {
    const dir = dirOf();
    const store = new FileEventStore(dir);
    store.load();
    for (let i = 0; i < 3; i++) store.save("imp_a", { events: [event(i)] });
    store.close();
    const size = readFileSync(store.path).length;
    truncateSync(store.path, size - 20);

    const reopened = new FileEventStore(dir);
    expect(reopened.load().get("imp_a")?.events).toEqual([event(0), event(1)]);
    expect(reopened.skipped).toBe(1);
    reopened.save("imp_a", { events: [event(3)] });
    reopened.close();
    const last = new FileEventStore(dir);
    expect(last.load().get("imp_a")?.events).toEqual([event(0), event(1), event(3)]);
    expect(last.skipped).toBe(0);
  });

  it("skips a line that is not one of its own (garbage, a half-written object) and keeps the rest", () => {
    const dir = dirOf();
    const path = join(dir, "events.jsonl");
    writeFileSync(path, `${JSON.stringify({ sid: "imp_a", events: [event(0)] })}\n\0\0\0\n{"sid":"imp_a","events":[{"id":"e1"}]}\n${JSON.stringify({ sid: "imp_a", events: [event(2)] })}\n`);
    const store = new FileEventStore(dir);
    expect(store.load().get("imp_a")?.events).toEqual([event(0), event(2)]);
    expect(store.skipped).toBe(2);
  });

  it("is compacted: a long run of recorded-then-forgotten events leaves a journal of what is still pending", () => {
    const dir = dirOf();
    const store = new FileEventStore(dir, { compactAfterLines: 50 });
    store.load();
    store.save("imp_a", { events: [{ ...event(0), id: "kept" }] });
    for (let i = 0; i < 500; i++) {
      store.save("imp_a", { events: [event(i)] });
      if (i % 10 === 9) store.save("imp_a", { forget: Array.from({ length: 10 }, (_, k) => `e${i - 9 + k}`) });
    }
    // 550 lines written; at most 50 since the last rewrite (which wrote one line for the session).
    expect(readFileSync(store.path, "utf8").split("\n").filter(Boolean).length).toBeLessThanOrEqual(51);
    store.close();
    expect(pendingIn(dir).get("imp_a")?.events.map((e) => e.id)).toEqual(["kept"]);
  });

  it("a save before load keeps what a previous process left", () => {
    const dir = dirOf();
    const first = new FileEventStore(dir);
    first.save("imp_a", { events: [event(0)] });
    first.close();
    const second = new FileEventStore(dir);
    second.save("imp_a", { events: [event(1)] });
    second.close();
    expect(pendingIn(dir).get("imp_a")?.events).toEqual([event(0), event(1)]);
  });
});

describe("event buffer with a file store", () => {
  it("events recorded while Steward is unreachable are sent by the next process on the same store, each once; the store is then empty", async () => {
    const dir = dirOf();
    const { sink, held } = fakeSteward();
    sink.down = true;
    const before = new EventBuffer(sink, { store: new FileEventStore(dir), flushIntervalMs: 60_000, baseBackoffMs: 60_000 });
    for (let i = 0; i < 7; i++) before.add("imp_a", event(i));
    await before.flush();
    before.close();

    sink.down = false;
    const after = new EventBuffer(sink, { store: new FileEventStore(dir), flushIntervalMs: 60_000 });
    expect(after.pending("imp_a")).toBe(7);
    await after.flush();
    after.close();
    expect(held.get("imp_a")?.map((e) => e.id)).toEqual(Array.from({ length: 7 }, (_, i) => `e${i}`));
    expect(pendingIn(dir).size).toBe(0);
  });

  it("past maxBuffered the dropped events leave the store and their count survives a restart into the report", async () => {
    const dir = dirOf();
    const { sink, held } = fakeSteward();
    sink.down = true;
    const before = new EventBuffer(sink, { store: new FileEventStore(dir), maxBuffered: 4, flushIntervalMs: 60_000 });
    for (let i = 0; i < 7; i++) before.add("imp_a", event(i));
    before.close();
    const stored = pendingIn(dir).get("imp_a");
    expect(stored?.events.map((e) => e.id)).toEqual(["e3", "e4", "e5", "e6"]);
    expect(stored?.dropped).toMatchObject({ count: 3, unconfirmed: 0 });

    sink.down = false;
    const after = new EventBuffer(sink, { store: new FileEventStore(dir), maxBuffered: 4, flushIntervalMs: 60_000 });
    await after.flush();
    after.close();
    const got = held.get("imp_a") ?? [];
    expect(got.filter((e) => !e.route.startsWith("kit: ")).map((e) => e.id)).toEqual(["e3", "e4", "e5", "e6"]);
    expect(got.filter((e) => e.route.startsWith("kit: ")).map((e) => e.detail)).toEqual(["3 events were dropped while Steward was unreachable"]);
    expect(pendingIn(dir).size).toBe(0);
  });

  it("restored past a smaller bound: the oldest are dropped as events Steward may hold (they may have been sent before the restart)", async () => {
    const dir = dirOf();
    const store = new FileEventStore(dir);
    store.load();
    for (let i = 0; i < 6; i++) store.save("imp_a", { events: [event(i)] });
    store.close();
    const { sink, held } = fakeSteward();
    const after = new EventBuffer(sink, { store: new FileEventStore(dir), maxBuffered: 4, flushIntervalMs: 60_000 });
    await after.flush();
    after.close();
    const got = held.get("imp_a") ?? [];
    expect(got.filter((e) => !e.route.startsWith("kit: ")).map((e) => e.id)).toEqual(["e2", "e3", "e4", "e5"]);
    expect(got.filter((e) => e.route.startsWith("kit: ")).map((e) => e.detail)).toEqual(["2 events sent without an answer were dropped (Steward may hold them)"]);
  });

  it("a loss report made but not stored before the restart is sent after it with the same id", async () => {
    const dir = dirOf();
    const { sink, held } = fakeSteward();
    sink.down = true;
    const before = new EventBuffer(sink, { store: new FileEventStore(dir), maxBuffered: 2, flushIntervalMs: 60_000, baseBackoffMs: 60_000 });
    for (let i = 0; i < 3; i++) before.add("imp_a", event(i));
    await before.flush();
    before.close();
    const stored = pendingIn(dir).get("imp_a");
    expect(stored?.reports).toHaveLength(1);
    expect(stored?.dropped).toBeNull();

    sink.down = false;
    const after = new EventBuffer(sink, { store: new FileEventStore(dir), maxBuffered: 2, flushIntervalMs: 60_000 });
    await after.flush();
    after.close();
    expect((held.get("imp_a") ?? []).filter((e) => e.route.startsWith("kit: ")).map((e) => e.id)).toEqual([stored!.reports[0]!.id]);
  });
});

/** Field 22 of /proc/<pid>/stat (the process's start time), counted after the command name in parentheses. */
function startTimeOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const afterName = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return afterName[22 - 3]!;
}

describe("FileEventStore: one process per directory", () => {
  /** Another product process with its store on `dir`, once it has recorded an event there. */
  async function otherProcess(dir: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", new URL("./support/holdStore.ts", import.meta.url).pathname, dir], { stdio: ["ignore", "pipe", "inherit"] });
    const said = await new Promise<string>((resolve) => {
      let out = "";
      child.stdout!.on("data", (c: Buffer) => {
        out += c.toString();
        if (out.includes("\n")) resolve(out.trim());
      });
      child.once("exit", () => resolve(out.trim()));
    });
    if (said !== "ready") throw new Error(`the other process did not start: ${said}`);
    return child;
  }
  const exited = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));

  it("a directory in use by another live process is refused, naming the directory and its pid, and its journal is left alone; once that process stops it can be used", async () => {
    const dir = dirOf();
    const child = await otherProcess(dir);
    try {
      const journal = readFileSync(join(dir, "events.jsonl"), "utf8");
      let error: unknown = null;
      try {
        new FileEventStore(dir).close();
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(DirectoryLocked);
      expect((error as DirectoryLocked).message).toContain(dir);
      expect((error as DirectoryLocked).message).toContain(`process ${child.pid}`);
      expect(error).toMatchObject({ code: "directory_locked", pid: child.pid, dir });
      // Not compacted nor appended to behind the other process's back.
      expect(readFileSync(join(dir, "events.jsonl"), "utf8")).toBe(journal);
    } finally {
      child.kill("SIGTERM");
      await exited(child);
    }
    expect(existsSync(join(dir, "events.lock"))).toBe(false);
    expect(pendingIn(dir).get("imp_other")?.events.map((e) => e.id)).toEqual(["held"]);
  });

  it("the lock of a process that died without closing its store (killed) is taken over, and what it recorded is there", async () => {
    const dir = dirOf();
    const child = await otherProcess(dir);
    child.kill("SIGKILL");
    await exited(child);
    expect(readFileSync(join(dir, "events.lock"), "utf8").trim().split(" ")[0]).toBe(String(child.pid));
    const store = new FileEventStore(dir);
    try {
      expect(readFileSync(join(dir, "events.lock"), "utf8").trim().split(" ")[0]).toBe(String(process.pid));
      expect(store.load().get("imp_other")?.events.map((e) => e.id)).toEqual(["held"]);
    } finally {
      store.close();
    }
  });

  it.runIf(process.platform === "linux")("the lock records the holder's start time; a dead holder's pid now used by a process started later (pid reuse) is taken over, the live holder is refused", async () => {
    const dir = dirOf();
    const child = await otherProcess(dir);
    try {
      const lock = join(dir, "events.lock");
      const start = startTimeOf(child.pid!);
      expect(readFileSync(lock, "utf8")).toBe(`${child.pid} ${start}\n`);
      expect(() => new FileEventStore(dir).close()).toThrow(DirectoryLocked);
      // As written before start times were recorded (pid alone): a live pid is taken at its word.
      writeFileSync(lock, `${child.pid}\n`);
      expect(() => new FileEventStore(dir).close()).toThrow(DirectoryLocked);
      // The same live pid with another start time: the holder is gone and this is another process, so the lock is stale.
      writeFileSync(lock, `${child.pid} ${Number(start) + 1}\n`);
      const store = new FileEventStore(dir);
      try {
        expect(readFileSync(lock, "utf8")).toBe(`${process.pid} ${startTimeOf(process.pid)}\n`);
        expect(store.load().get("imp_other")?.events.map((e) => e.id)).toEqual(["held"]);
      } finally {
        store.close();
      }
    } finally {
      child.kill("SIGKILL");
      await exited(child);
    }
  });

  it("a second store on the directory in this process is refused until the first is closed; a lock left with this pid by an earlier process (pid reuse) or unreadable is taken over", () => {
    const dir = dirOf();
    const first = new FileEventStore(dir);
    expect(() => new FileEventStore(dir)).toThrow(DirectoryLocked);
    expect(() => new FileEventStore(dir)).toThrow(/another FileEventStore of this process/);
    first.save("imp_a", { events: [event(1)] });
    first.close();
    expect(existsSync(join(dir, "events.lock"))).toBe(false);
    for (const leftover of [`${process.pid}\n`, "not a pid"]) {
      writeFileSync(join(dir, "events.lock"), leftover);
      const store = new FileEventStore(dir);
      expect(store.load().get("imp_a")?.events).toEqual([event(1)]);
      store.close();
    }
  });
});
