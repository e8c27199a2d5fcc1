import { systemActor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import type { ZafAgent } from "../auth/zafToken.js";
import type { AppDeps } from "../deps.js";
import type { Staff } from "../db/schema.js";
import { Problem } from "../http/problem.js";
import { newStaffId } from "./changeStaffRole.js";
import { findStaffByZendeskUserId, staffSnapshot } from "./staffQueries.js";

/**
 * The staff member a verified Zendesk agent is. An agent unknown to Steward becomes a
 * support_read_only member on first visit (audited as a grant by Steward), or is refused with
 * `no_panel_access` when UNKNOWN_AGENT_ACCESS=none.
 */
export async function staffForAgent(deps: Pick<AppDeps, "config" | "database" | "clock">, agent: ZafAgent): Promise<Staff> {
  const { db } = deps.database;
  const known = await findStaffByZendeskUserId(db, agent.zendeskUserId);
  if (known) return known;
  if (deps.config.UNKNOWN_AGENT_ACCESS === "none") {
    throw Problem.forbidden("no_panel_access", "You have no Steward panel access yet; ask a Steward admin to add you", { zendeskUserId: agent.zendeskUserId });
  }
  const created = await db.transaction().execute(async (trx) => {
    const now = deps.clock.now();
    const row = await trx
      .insertInto("staff")
      .values({ id: newStaffId(), zendesk_user_id: agent.zendeskUserId, email: agent.email, name: agent.name, panel_role: "support_read_only", created_at: now, updated_at: now })
      .onConflict((oc) => oc.column("zendesk_user_id").doNothing())
      .returningAll()
      .executeTakeFirst();
    // Nothing inserted: a parallel first request created the member (and its audit entry).
    if (!row) return undefined;
    await appendAudit(
      trx,
      {
        actor: systemActor("first-visit"),
        action: "staff.grant",
        target: { type: "staff", id: row.id, accountId: null },
        ticketId: agent.ticketId,
        reason: "First visit from Zendesk: unknown agents get support_read_only (UNKNOWN_AGENT_ACCESS=read_only)",
        before: null,
        after: staffSnapshot(row),
        outcome: "succeeded",
      },
      deps.clock,
    );
    return row;
  });
  return created ?? (await findStaffByZendeskUserId(db, agent.zendeskUserId)) ?? Promise.reject(new Error("staff row vanished after insert"));
}
