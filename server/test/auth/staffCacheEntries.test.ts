import { describe, expect, it } from "vitest";
import { StaffCache } from "../../src/auth/staffCache.js";
import type { Staff } from "../../src/db/schema.js";

// The cache's own bookkeeping (lifetime, size bound), with explicit times; no app or database, so the mutation
// run tries it first. What the cached rows may decide is staffCache.test.ts (two processes on one database).

const row = (id: string, panel_role: Staff["panel_role"] = "support_full"): Staff => ({
  id,
  zendesk_user_id: `z-${id}`,
  email: null,
  name: null,
  panel_role,
  active: true,
  created_at: new Date(0),
  updated_at: new Date(0),
});

describe("StaffCache entries", () => {
  it("answers a row for its lifetime to the millisecond, then forgets it", () => {
    const cache = new StaffCache(10, 1000);
    cache.set(row("a"), 5000);
    expect(cache.get("a", 6000)?.id).toBe("a");
    expect(cache.get("a", 6001)).toBeUndefined();
    // Forgotten, not just hidden: an earlier clock does not bring it back.
    expect(cache.get("a", 5000)).toBeUndefined();
    expect(cache.get("never-set", 5000)).toBeUndefined();
  });

  it("a set replaces the row and restarts its lifetime; delete drops it", () => {
    const cache = new StaffCache(10, 1000);
    cache.set(row("a"), 0);
    cache.set(row("a", "admin"), 900);
    expect(cache.get("a", 1900)?.panel_role).toBe("admin");
    cache.delete("a");
    expect(cache.get("a", 1900)).toBeUndefined();
  });

  it("holds at most maxEntries rows, dropping the least recently set first", () => {
    const cache = new StaffCache(2, 60_000);
    cache.set(row("a"), 0);
    cache.set(row("b"), 0);
    // Setting a held row again evicts nothing (here: the newest row, with the cache full)…
    cache.set(row("b"), 1);
    expect([cache.get("a", 1)?.id, cache.get("b", 1)?.id]).toEqual(["a", "b"]);
    // …and makes it the newest.
    cache.set(row("a"), 1);
    cache.set(row("c"), 2);
    expect([cache.get("a", 2)?.id, cache.get("b", 2)?.id, cache.get("c", 2)?.id]).toEqual(["a", undefined, "c"]);
    cache.set(row("d"), 3);
    expect([cache.get("a", 3)?.id, cache.get("c", 3)?.id, cache.get("d", 3)?.id]).toEqual([undefined, "c", "d"]);
  });

  it("defaults to 1000 rows for a minute", () => {
    const cache = new StaffCache();
    for (let i = 0; i <= 1000; i++) cache.set(row(`s${i}`), 0);
    expect(cache.get("s0", 0)).toBeUndefined();
    expect(cache.get("s1", 60_000)?.id).toBe("s1");
    expect(cache.get("s1", 60_001)).toBeUndefined();
  });
});
