import { randomUUID } from "node:crypto";
import { actionInputs } from "../../../../shared/schemas/actions.js";
import { Problem } from "../../http/problem.js";
import { defineCommand, type CommandContext } from "../command.js";
import type { Transaction } from "kysely";
import type { DB } from "../../db/schema.js";
import type { ProductRole } from "../../../../shared/roles.js";
import { actionEffects, said } from "../billingEffects.js";
import { userAfter } from "../identityRef.js";
import { elevationRaises } from "../../../../shared/productAccess.js";
import { openElevation } from "./roleElevations.js";
import { assertCanGainAccess } from "./userTransitions.js";
import { writeUser } from "../directoryWrite.js";
import { mirrorWritten, recordUserWrite } from "../../directory/readThrough.js";
import type { DirectoryUser } from "../../../../shared/directory/contract.js";

const HOUR_MS = 3_600_000;

/**
 * user.elevate_temporarily — raises an active user's role for `hours` (capped per panel role);
 * role_elevations remembers the previous role, which the sweep restores (user.elevation_expire).
 * Only active users on an open account: hours of a role nobody can use would run out unused.
 */
export const elevateTemporarily = defineCommand({
  action: "user.elevate_temporarily",
  targetType: "user",
  input: actionInputs["user.elevate_temporarily"],
  provider: "directory",
  capValue: (input) => input.hours,
  precondition: async (target, ctx) => {
    const { user } = target;
    assertCanGainAccess("user.elevate_temporarily", target, ["active"]);
    const open = await openElevation(ctx.deps.database.db, user.id);
    if (open) throw Problem.conflict("already_elevated", `${user.email} is already elevated to ${open.elevated_role} until ${new Date(open.expires_at).toISOString()}`, { elevationId: open.id });
  },
  validate: (target, input) => {
    const { user } = target;
    // The sidebar offers only roles above the current one (shared/productAccess.ts): the same rule.
    if (!elevationRaises(user.role, input.role)) {
      throw Problem.conflict("invalid_transition", `${input.role} is not above ${user.email}'s role (${user.role})`, {
        role: user.role,
        requested: input.role,
        errors: [{ field: "body.input.role", reason: `not above the user's role (${user.role}): an elevation raises the role` }],
      });
    }
  },
  // Not destructive, but it raises what the user may do: the role, for how long and until when are shown first.
  preview: async (target, input, ctx) => {
    const untilTime = new Date(ctx.now.getTime() + input.hours * HOUR_MS).toISOString();
    return actionEffects(null, {
      summary: said("user_elevate", { name: target.user.name, email: target.user.email, fromRole: target.user.role, toRole: input.role, count: input.hours, untilTime }, `Raise ${target.user.name} <${target.user.email}>'s role ${target.user.role} → ${input.role} for ${input.hours} hour(s), until ${untilTime}; then ${target.user.role} comes back`),
      billingAfter: "unchanged",
    });
  },
  perform: (target, input, ctx, call) => writeUser(target, { role: input.role }, ctx, call),
  apply: async (trx, target, input, ctx, written) => {
    const elevation = await recordElevation(trx, { id: target.id, accountId: target.accountId }, target.user.role, input, ctx, written);
    await mirrorWritten(trx, ctx.deps, { user: written }, ctx.now);
    return { after: { ...(await userAfter(trx, target.id, written)), elevation }, result: { elevationId: elevation.id, expiresAt: elevation.expiresAt } };
  },
});

/**
 * The elevation the sweep reverts to `previousRole`, dated from the request (`grant.now`): written by
 * apply (`answer`: the product's to the write, with the http directory), and by operation.resolve when a
 * person confirms a lost elevation did reach the product.
 */
export async function recordElevation(
  trx: Transaction<DB>,
  user: { id: string; accountId: string },
  previousRole: ProductRole,
  input: { role: ProductRole; hours: number },
  grant: Pick<CommandContext, "deps" | "actor" | "ticketId" | "now">,
  answer?: DirectoryUser,
): Promise<{ id: string; previousRole: ProductRole; role: ProductRole; expiresAt: string }> {
  const id = `rel_${randomUUID()}`;
  const expiresAt = new Date(grant.now.getTime() + input.hours * HOUR_MS);
  const grantedBy = grant.actor.kind === "staff" ? grant.actor.staffId : `system:${grant.actor.component}`;
  await trx
    .insertInto("role_elevations")
    .values({ id, user_id: user.id, account_id: user.accountId, previous_role: previousRole, elevated_role: input.role, expires_at: expiresAt, ticket_id: grant.ticketId, granted_by_staff_id: grantedBy, created_at: grant.now })
    .execute();
  await recordUserWrite(trx, grant.deps, user.id, { role: input.role }, { answer, now: grant.now });
  await trx.insertInto("activity_events").values({ account_id: user.accountId, user_id: user.id, type: "role_elevated", detail: `${previousRole} → ${input.role} until ${expiresAt.toISOString()} (ticket ${grant.ticketId})`, ip: null, occurred_at: grant.now }).execute();
  return { id, previousRole, role: input.role, expiresAt: expiresAt.toISOString() };
}
