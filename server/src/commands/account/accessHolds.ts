import { randomUUID } from "node:crypto";
import { sql, type Selectable, type Transaction } from "kysely";
import type { BillingSummary } from "../../../../shared/schemas/context.js";
import type { AccountAccessHoldsTable, Account, DB, User } from "../../db/schema.js";
import type { ProviderCallContext } from "../../providers/ports.js";
import type { CommandContext } from "../command.js";
import type { ProviderStep } from "../compensation.js";
import { identityRef } from "../identityRef.js";
import type { Executor } from "../targets.js";

/**
 * Account-level access holds: a suspension, deactivation or deletion blocks the account's users at
 * the identity provider and records exactly whom it blocked, so lifting it unblocks those users and
 * leaves alone anyone who was blocked for another reason.
 */
export type AccessHold = Selectable<AccountAccessHoldsTable>;
export type HoldKind = AccessHold["kind"];

/** Users who can sign in now (active, not already blocked): whom a hold blocks, and who lose access. */
export function usersToBlock(db: Executor, accountId: string): Promise<User[]> {
  return db.selectFrom("users").selectAll().where("account_id", "=", accountId).where("status", "=", "active").where("blocked", "=", false).orderBy("id").execute();
}

export function openHolds(db: Executor, accountId: string, kinds: readonly HoldKind[]): Promise<AccessHold[]> {
  return db.selectFrom("account_access_holds").selectAll().where("account_id", "=", accountId).where("released_at", "is", null).where("kind", "in", [...kinds]).orderBy("created_at").orderBy("id").execute();
}

/** The users the holds blocked who still exist, in a stable order. */
export async function usersHeldBy(db: Executor, holds: readonly AccessHold[]): Promise<User[]> {
  const ids = [...new Set(holds.flatMap((h) => h.blocked_user_ids))];
  if (ids.length === 0) return [];
  return db.selectFrom("users").selectAll().where("id", "in", ids).where("status", "!=", "deleted").orderBy("id").execute();
}

/** One provider step per user, each able to undo itself. */
export function blockSteps(users: readonly User[], blocked: boolean, ctx: CommandContext, call: ProviderCallContext): ProviderStep[] {
  return users.map((user) => ({
    label: `${blocked ? "block" : "unblock"} ${user.id}`,
    run: () => ctx.deps.identity.setBlocked(identityRef(user), blocked, call),
    undo: () => ctx.deps.identity.setBlocked(identityRef(user), !blocked, call),
  }));
}

/** The product's copy of the block follows the provider (built-in adapters have written it already). */
export async function mirrorBlocked(trx: Transaction<DB>, userIds: readonly string[], blocked: boolean, now: Date): Promise<void> {
  if (userIds.length === 0) return;
  await trx
    .updateTable("users")
    .set({ blocked, version: sql`version + 1`, steward_writes: sql`steward_writes + 1`, updated_at: now })
    .where("id", "in", [...userIds])
    .execute();
}

/**
 * What a deactivation did to billing: the subscription it set to end itself (if any), when the provider says that
 * cancel was asked for (null: not known), and the snapshot it saw.
 */
export interface HoldBilling {
  setToEnd: string | null;
  cancelRequestedAt: string | null;
  before: Record<string, unknown> | null;
}

/** What a hold and its activity entry record of the request: operation.resolve passes the original request's. */
export type HoldRequest = Pick<CommandContext, "ticketId" | "operationId" | "now">;

export async function recordHold(trx: Transaction<DB>, account: Account, kind: HoldKind, blockedUserIds: readonly string[], ctx: HoldRequest, billing?: HoldBilling): Promise<string> {
  const id = `hold_${randomUUID()}`;
  await trx
    .insertInto("account_access_holds")
    .values({
      id,
      account_id: account.id,
      kind,
      previous_status: account.status,
      blocked_user_ids: [...blockedUserIds],
      ticket_id: ctx.ticketId,
      operation_id: ctx.operationId,
      created_at: ctx.now,
      released_at: null,
      subscription_set_to_end: billing?.setToEnd ?? null,
      subscription_cancel_requested_at: billing?.setToEnd ? billing.cancelRequestedAt : null,
      subscription_before: billing?.before ? JSON.stringify(billing.before) : null,
    })
    .execute();
  return id;
}

/**
 * Whether the subscription's cancellation in `billing` is still the one an open deactivation set: activation
 * resumes only that. A cancel the customer asked for (before the deactivation, or since) is theirs and stays,
 * also on the same subscription: renewed and cancelled again in the provider's portal, it was asked for later
 * than the hold recorded. A hold without a recorded time (written before migration 043, or confirmed by
 * operation.resolve when the provider could not be read) goes by the subscription id alone, as it always did.
 */
export function cancelHeldByDeactivation(billing: BillingSummary | null, holds: readonly AccessHold[]): boolean {
  const hold = holds.find((h) => h.kind === "deactivation" && h.subscription_set_to_end !== null);
  if (!hold || !billing?.cancelAtPeriodEnd || billing.subscriptionId !== hold.subscription_set_to_end) return false;
  const recorded = hold.subscription_cancel_requested_at;
  if (recorded === null) return true;
  const requested = billing.cancelRequestedAt ?? null;
  return requested !== null && new Date(requested).getTime() === new Date(recorded).getTime();
}

/** The customer's own cancellation replaces a deactivation's: activating the account must not resume it. */
export async function handCancelToCustomer(trx: Transaction<DB>, accountId: string): Promise<void> {
  await trx
    .updateTable("account_access_holds")
    .set({ subscription_set_to_end: null, subscription_cancel_requested_at: null })
    .where("account_id", "=", accountId)
    .where("kind", "=", "deactivation")
    .where("released_at", "is", null)
    .execute();
}

export async function releaseHolds(trx: Transaction<DB>, holds: readonly AccessHold[], now: Date): Promise<void> {
  if (holds.length === 0) return;
  await trx
    .updateTable("account_access_holds")
    .set({ released_at: now })
    .where(
      "id",
      "in",
      holds.map((h) => h.id),
    )
    .execute();
}

export async function recordAccountActivity(trx: Transaction<DB>, accountId: string, type: string, ctx: Pick<CommandContext, "ticketId" | "now">, detail: string): Promise<void> {
  await trx.insertInto("activity_events").values({ account_id: accountId, user_id: null, type, detail: `${detail} by support (ticket ${ctx.ticketId})`, ip: null, occurred_at: ctx.now }).execute();
}
