import type { Staff } from "../db/schema.js";

/**
 * Staff rows for the lookup routes (context, search), kept per process so the hot path skips one
 * round trip. Safe across processes because nothing is answered from it unchecked: the request's audit
 * entry verifies the row is unchanged as it is written (migration 029, `steward_staff_as_of`), and on a
 * mismatch the entry fails, the row is dropped here and the request is authorised again from a fresh
 * read (http/route.ts). Writes never use it: they read the row afresh before any provider call.
 */
export class StaffCache {
  private readonly rows = new Map<string, { row: Staff; at: number }>();

  constructor(
    private readonly maxEntries = 1000,
    /** Bounds how long a field the guard does not compare could lag; the guard compares updated_at. */
    private readonly ttlMs = 60_000,
  ) {}

  get(staffId: string, now = Date.now()): Staff | undefined {
    const hit = this.rows.get(staffId);
    if (!hit) return undefined;
    if (now - hit.at > this.ttlMs) {
      this.rows.delete(staffId);
      return undefined;
    }
    return hit.row;
  }

  set(row: Staff, now = Date.now()): void {
    // Oldest first out: a Map iterates in insertion order.
    if (!this.rows.has(row.id) && this.rows.size >= this.maxEntries) {
      const oldest = this.rows.keys().next().value;
      if (oldest !== undefined) this.rows.delete(oldest);
    }
    this.rows.delete(row.id);
    this.rows.set(row.id, { row, at: now });
  }

  delete(staffId: string): void {
    this.rows.delete(staffId);
  }
}
