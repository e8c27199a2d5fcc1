import { actionInputs } from "../../../../shared/schemas/actions.js";
import type { Account } from "../../db/schema.js";
import { Problem } from "../../http/problem.js";
import { accountAfter } from "../accountAfter.js";
import { assertKeepsAnAdmin, isActiveAdmin, lockAccountAdmins } from "../accountAdmins.js";
import { actionEffects, said } from "../billingEffects.js";
import { currentBilling } from "../billingState.js";
import { defineCommand } from "../command.js";
import { runCompensated, type ProviderStep } from "../compensation.js";
import { identityRef } from "../identityRef.js";
import type { Executor } from "../targets.js";
import { seatHolders, userRef, type SeatHolder } from "./seatHolders.js";
import { directoryStep, writeUser } from "../directoryWrite.js";
import { mirrorWritten, recordUserWrite } from "../../directory/readThrough.js";
import type { DirectoryUser } from "../../../../shared/directory/contract.js";

const DAY_MS = 86_400_000;
/** The statuses that hold a seat (seatHolders). */
const SEAT_STATUSES = new Set<string>(["active", "invited"]);

/** Seat holders with no sign-in for `inactiveDays` (invitations never accepted in that time count too). */
function inactiveSince(holders: SeatHolder[], cutoff: Date): SeatHolder[] {
  return holders.filter((u) => new Date(u.last_login_at ?? u.created_at) <= cutoff);
}

/** The chosen users, all of them seat holders of this account: otherwise 400 naming the ones that are not. */
async function chosenHolders(db: Executor, account: Account, userIds: string[]): Promise<SeatHolder[]> {
  const holders = await seatHolders(db, account.id);
  const byId = new Map(holders.map((u) => [u.id, u]));
  const unknown = [...new Set(userIds)].filter((id) => !byId.has(id));
  if (unknown.length) {
    throw Problem.badRequest(`Not users holding a seat in account ${account.id}: ${unknown.join(", ")}`, unknown.map((id) => ({ field: "input.userIds", reason: `${id} is not an active or invited user of ${account.id}` })));
  }
  return [...new Set(userIds)].map((id) => byId.get(id) as SeatHolder);
}

/**
 * seats.reclaim — frees seats held by people who left: the preview lists candidates (no sign-in for
 * `inactiveDays`) or the chosen users; the action deactivates exactly the `userIds` the agent confirmed
 * and takes their access away as user.deactivate does: blocked at the identity provider and every
 * session ended there. The licence and the bill stay as they are.
 */
export const reclaimSeats = defineCommand({
  action: "seats.reclaim",
  targetType: "account",
  input: actionInputs["seats.reclaim"],
  provider: ["identity", "directory"],
  preview: async (target, input, ctx) => {
    const db = ctx.deps.database.db;
    const holders = await seatHolders(db, target.id);
    const chosen = input.userIds.length > 0;
    const users = chosen ? await chosenHolders(db, target.account, input.userIds) : inactiveSince(holders, new Date(ctx.now.getTime() - input.inactiveDays * DAY_MS));
    const warnings = users.filter(isActiveAdmin).map((u) => said(`active_${u.role}`, { email: u.email }, `${u.email} is an active ${u.role} of the account`));
    if (!chosen) warnings.push(said("reclaim_candidates", { count: input.inactiveDays }, `Candidates: no sign-in for ${input.inactiveDays} days. Confirm by sending the users to deactivate as userIds`));
    const used = holders.length - (chosen ? users.length : 0);
    // Shown for context only: the bill does not change, so a billing outage must not block the preview.
    const billing = await currentBilling(ctx, target.account).catch(() => null);
    return actionEffects(billing, {
      summary: chosen
        ? said("seats_reclaim", { count: users.length, inUse: holders.length, after: used, licensed: target.account.seats_licensed }, `Deactivates ${users.length} users; seats in use ${holders.length} → ${used} of ${target.account.seats_licensed} licensed`)
        : said("seats_reclaim_candidates", { count: users.length, holders: holders.length, days: input.inactiveDays }, `${users.length} of ${holders.length} users holding seats have not signed in for ${input.inactiveDays} days`),
      billingAfter: "unchanged",
      usersLosingAccess: users.map(userRef),
      warnings,
    });
  },
  // The preview (which runs validate too) may list candidates without a choice; the action needs one.
  validate: async (target, input, ctx) => {
    if (!input.userIds.length) return;
    const users = await chosenHolders(ctx.deps.database.db, target.account, input.userIds);
    await assertKeepsAnAdmin(ctx.deps.database.db, target.id, users);
  },
  // Blocks first (each undone if a later one fails), then sessions, which cannot be restored.
  perform: async (target, input, ctx, call) => {
    if (!input.userIds.length) throw Problem.badRequest("Choose the users to deactivate (the preview lists candidates)", [{ field: "input.userIds", reason: "at least one user is required" }]);
    const db = call.executor ?? ctx.deps.database.db;
    const ids = [...new Set(input.userIds)];
    const users = await db.selectFrom("users").selectAll().where("id", "in", ids).where("account_id", "=", target.id).orderBy("id").execute();
    const steps: ProviderStep[] = [];
    for (const user of users.filter((u) => !u.blocked)) {
      steps.push({ label: `block ${user.id}`, run: () => ctx.deps.identity.setBlocked(identityRef(user), true, call), undo: () => ctx.deps.identity.setBlocked(identityRef(user), false, call) });
    }
    let sessionsRevoked = 0;
    for (const user of users) {
      steps.push({ label: `end the sessions of ${user.id}`, run: async () => (sessionsRevoked += (await ctx.deps.identity.revokeSessions(identityRef(user), call)).revoked) });
    }
    // Last, as in every action: the product's status for each, keyed per user.
    const written: DirectoryUser[] = [];
    for (const user of users) {
      steps.push(...directoryStep(ctx, `deactivate ${user.id} in the directory`, async () => void written.push(await writeUser({ id: user.id, user }, { status: "deactivated" }, ctx, call))));
    }
    await runCompensated(steps, { logger: ctx.deps.logger, transactional: Boolean(call.executor) });
    return { sessionsRevoked, written };
  },
  apply: async (trx, target, input, ctx, performed) => {
    // Checked again under the account lock: the users must still hold their seats.
    await lockAccountAdmins(trx, target.id);
    const users = await chosenHolders(trx, target.account, input.userIds);
    await assertKeepsAnAdmin(trx, target.id, users);
    const ids = users.map((u) => u.id);
    await trx.updateTable("users").set((eb) => ({ blocked: true, version: eb("version", "+", 1), updated_at: ctx.now })).where("id", "in", ids).execute();
    for (const id of ids) await recordUserWrite(trx, ctx.deps, id, { status: "deactivated" }, { answer: performed.written.find((u) => u.id === id), now: ctx.now });
    await trx.updateTable("user_sessions").set({ revoked_at: ctx.now }).where("user_id", "in", ids).where("revoked_at", "is", null).execute();
    for (const user of performed.written) await mirrorWritten(trx, ctx.deps, { user }, ctx.now);
    await trx
      .insertInto("activity_events")
      .values(users.map((u) => ({ account_id: target.id, user_id: u.id, type: "user_deactivated", detail: `seat reclaimed by support (ticket ${ctx.ticketId})`, ip: null, occurred_at: ctx.now })))
      .execute();
    // The users this command wrote count as the product answered it, not as a newer read the cache may keep (mirror.ts).
    const answered = new Map(performed.written.map((u) => [u.id, u.status]));
    const remaining = (await seatHolders(trx, target.id)).filter((u) => SEAT_STATUSES.has(answered.get(u.id) ?? u.status));
    return {
      after: { ...(await accountAfter(trx, target.id)), seatsUsed: remaining.length, deactivated: users.map((u) => ({ ...userRef(u), previousStatus: u.status })) },
      result: { deactivated: ids, seatsUsed: remaining.length, sessionsRevoked: performed.sessionsRevoked },
    };
  },
});
