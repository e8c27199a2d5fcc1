import { Problem } from "../http/problem.js";
import type { ProviderCallContext } from "../providers/ports.js";
import { unknownEffectOf } from "./effectUnknown.js";
import type { Executor } from "./targets.js";

type GrantRow = { reverted_at: Date | string | null; expires_at: Date | string };

/** A temporary grant (role elevation, seat expansion) is ended once: by the sweep, or earlier by an agent. */
export function assertGrantOpen<T extends GrantRow>(row: T | undefined, what: string): T {
  if (!row) throw Problem.notFound(`No ${what}`);
  if (row.reverted_at) throw Problem.conflict("already_reverted", `${what} was already ended`);
  return row;
}

/** The sweep ends a grant only after it expires. */
export function assertGrantDue<T extends GrantRow>(row: T | undefined, what: string, now: Date): T {
  const open = assertGrantOpen(row, what);
  if (new Date(open.expires_at) > now) throw Problem.conflict("not_due", `${what} runs until ${new Date(open.expires_at).toISOString()}`);
  return open;
}

/** How the grant is ended: by the sweep once due (expire), or by an agent now (end). */
export type GrantEnding = "expire" | "end";

export function assertGrant<T extends GrantRow>(ending: GrantEnding, row: T | undefined, what: string, now: Date): T {
  return ending === "expire" ? assertGrantDue(row, what, now) : assertGrantOpen(row, what);
}

type GrantTable = "role_elevations" | "seat_expansions";

/**
 * The sweep's revert is a keyed write repeated in fresh runs under one key (`grant:<id>`), and the product
 * may answer a repeat with the first attempt's answer, replayed: the call carries when the key was first
 * sent (stored on the grant, set once), so that answer stands for no newer state than that.
 */
export async function sendRevertKeyed<T>(db: Executor, table: GrantTable, grantId: string, call: ProviderCallContext, now: Date, send: (call: ProviderCallContext) => Promise<T>): Promise<T> {
  const opened = await db.updateTable(table).set({ revert_key_opened_at: now }).where("id", "=", grantId).where("revert_key_opened_at", "is", null).returning("revert_key_opened_at").executeTakeFirst();
  const first = opened ?? (await db.selectFrom(table).select("revert_key_opened_at").where("id", "=", grantId).executeTakeFirstOrThrow());
  const at = new Date(first.revert_key_opened_at ?? now);
  const keyOpenedAt = call.keyOpenedAt && call.keyOpenedAt < at ? call.keyOpenedAt : at;
  try {
    return await send({ ...call, keyOpenedAt });
  } catch (err) {
    // Refused for sure, this attempt being the key's first: the product kept nothing under it, so the next
    // attempt is the first again (else its own fresh answer would be dated back to this one).
    if (opened && !unknownEffectOf(err)) await db.updateTable(table).set({ revert_key_opened_at: null }).where("id", "=", grantId).execute();
    throw err;
  }
}
