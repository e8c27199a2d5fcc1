import type { Transaction } from "kysely";
import type { DB } from "../../db/schema.js";
import type { CommandContext } from "../command.js";

/** What support did shows in the user's activity, as the product's own events do. */
export async function recordUserActivity(trx: Transaction<DB>, target: { accountId: string; id: string }, type: string, ctx: CommandContext, detail?: string): Promise<void> {
  await trx
    .insertInto("activity_events")
    .values({ account_id: target.accountId, user_id: target.id, type, detail: `${detail ? `${detail} ` : ""}by support (ticket ${ctx.ticketId})`, ip: null, occurred_at: ctx.now })
    .execute();
}
