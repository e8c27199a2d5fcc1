import { Problem } from "../../http/problem.js";
import type { CommandContext } from "../command.js";
import type { UserTarget } from "../targets.js";
import { elevationEnder } from "./elevationExpire.js";
import { openElevation } from "./roleElevations.js";

// Without the input: whether the user has an elevation to end at all (the available actions read it).
async function precondition(target: UserTarget, ctx: CommandContext) {
  if (!(await openElevation(ctx.deps.database.db, target.id))) throw Problem.conflict("no_open_grant", `${target.user.email} has no temporary role to end`);
}

/**
 * user.elevation_end — an agent ends the user's open temporary elevation now ("End now" in the
 * sidebar): the same effect as the sweep's user.elevation_expire, before it is due, audited with the
 * agent and the ticket.
 */
export const endElevation = {
  ...elevationEnder("user.elevation_end", "end", precondition),
  precondition,
};
