import type { Account, User } from "../../db/schema.js";
import type { Executor } from "../targets.js";

/**
 * Seats: the permanent licence is `accounts.seats_licensed`; temporary expansions add to it until a
 * sweep reverts them. The provider bills the sum, so every seat command sets the billed quantity
 * from here rather than adding to whatever the provider says.
 */
export type SeatHolder = Pick<User, "id" | "email" | "name" | "status" | "role" | "last_login_at" | "created_at">;

/** Seats added by expansions not reverted yet (due ones included: they count until the sweep reverts them). */
export async function temporarySeats(db: Executor, accountId: string, options: { except?: string } = {}): Promise<number> {
  let query = db.selectFrom("seat_expansions").select((eb) => eb.fn.coalesce(eb.fn.sum<number>("seats"), eb.lit(0)).as("n")).where("account_id", "=", accountId).where("reverted_at", "is", null);
  if (options.except) query = query.where("id", "!=", options.except);
  const row = await query.executeTakeFirstOrThrow();
  return Number(row.n);
}

/** What the provider should bill: the licence plus open expansions. */
export async function billedSeats(db: Executor, account: Account, options: { except?: string } = {}): Promise<number> {
  return account.seats_licensed + (await temporarySeats(db, account.id, options));
}

/** Users holding a seat (active and invited), least attached first: invitations, then the longest without a sign-in. */
export async function seatHolders(db: Executor, accountId: string): Promise<SeatHolder[]> {
  const users = await db
    .selectFrom("users")
    .select(["id", "email", "name", "status", "role", "last_login_at", "created_at"])
    .where("account_id", "=", accountId)
    .where("status", "in", ["active", "invited"])
    .execute();
  const lastSeen = (u: SeatHolder) => (u.last_login_at ? new Date(u.last_login_at).getTime() : -1);
  return users.sort((a, b) => Number(b.status === "invited") - Number(a.status === "invited") || lastSeen(a) - lastSeen(b) || a.id.localeCompare(b.id));
}

export function userRef(user: Pick<User, "id" | "email" | "name">): { id: string; email: string; name: string } {
  return { id: user.id, email: user.email, name: user.name };
}
