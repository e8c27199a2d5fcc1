import { randomUUID } from "node:crypto";
import { sql, type Kysely, type Selectable, type Transaction } from "kysely";
import { actionRules, type ActionName, type ActionRule } from "../../../../shared/actions.js";
import { roleAtLeast, type PanelRole } from "../../../../shared/roles.js";
import type { ApprovalCreate, ApprovalRequest } from "../../../../shared/schemas/approval.js";
import type { ActionResponse, SupportActionName } from "../../../../shared/schemas/actions.js";
import { systemActor, type StaffActor } from "../../actor.js";
import { appendAudit } from "../../audit/auditLog.js";
import { roleAllows } from "../../auth/permissions.js";
import { recordDenial } from "../../auth/recordDenial.js";
import type { ApprovalRequestsTable, DB } from "../../db/schema.js";
import type { AppDeps } from "../../deps.js";
import { fieldErrors, Problem, toProblem } from "../../http/problem.js";
import { verifyTicket } from "../../zendesk/ticketVerification.js";
import type { AnyCommand } from "../command.js";
import { commands } from "../registry.js";
import { assertNoticeChoice, previewCommand, runCommand } from "../runCommand.js";
import { loadTarget, type Executor } from "../targets.js";
import { keepRenewing } from "../targetLease.js";
import { settledRun } from "../../reconcile/providerOperations.js";
import { assertTargetType } from "../targetType.js";
import { approvalRequired, policyActions, rolesThatCan } from "./policy.js";

export { approvalRequired, policyActions, rolesThatCan };

/**
 * Two-person approval. A request over the agent's cap, or for an action an admin marked, is stored
 * with the requester's preview; anyone else whose role and caps allow the action approves it, which
 * runs it through runCommand as the approver with both people in the audit entry; or rejects it with
 * a reason. Undecided requests expire after 24 h. Every step is audited in the transaction that makes it.
 */
export const APPROVAL_TTL_MS = 24 * 60 * 60 * 1000;
export const APPROVAL_SWEEPER = systemActor("approvals");
type Row = Selectable<ApprovalRequestsTable>;

/** Actions that can never go through approval: a session grant belongs to the agent who asked for it. */
const NOT_APPROVABLE = new Set<string>(["impersonation.start", "impersonation.stop"]);

export function approvableCommand(action: string): AnyCommand | null {
  if (NOT_APPROVABLE.has(action)) return null;
  return commands.get(action as SupportActionName) ?? null;
}

/**
 * The stored input carries, beside the action's own input, what the request asked for the run:
 * ticketOverrideReason, notifyCustomer and customerLocale (kept there so a request is one row, read back as asked).
 */
function splitStored(raw: unknown): { input: Record<string, unknown>; ticketOverrideReason: string | undefined; notifyCustomer: boolean | undefined; customerLocale: string | undefined } {
  const { ticketOverrideReason, notifyCustomer, customerLocale, ...input } = (raw ?? {}) as { ticketOverrideReason?: string; notifyCustomer?: boolean; customerLocale?: string } & Record<string, unknown>;
  return { input, ticketOverrideReason, notifyCustomer, customerLocale };
}

export function toApproval(row: Row): ApprovalRequest {
  const { notifyCustomer } = splitStored(row.input);
  const { notifyCustomer: _notify, customerLocale: _locale, ...input } = (row.input ?? {}) as Record<string, unknown>;
  return {
    id: row.id,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    ticketId: row.ticket_id,
    reason: row.reason,
    input,
    notifyCustomer: notifyCustomer ?? null,
    preview: row.preview ?? null,
    status: row.status,
    requestedBy: { staffId: row.requested_by_staff_id, email: row.requested_by_email, name: row.requested_by_name, panelRole: row.requested_by_role as PanelRole },
    decidedBy: row.decided_by_staff_id ? { staffId: row.decided_by_staff_id, email: row.decided_by_email ?? "", name: row.decided_by_name } : null,
    decisionReason: row.decision_reason,
    result: row.result ?? null,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    decidedAt: row.decided_at ? row.decided_at.toISOString() : null,
  };
}

function parseInput(command: AnyCommand, raw: unknown): unknown {
  const parsed = command.input.safeParse(raw);
  if (!parsed.success) throw Problem.badRequest("The request has invalid fields", fieldErrors(parsed.error, "body.input", raw));
  return parsed.data;
}

function capValueOf(command: AnyCommand, input: unknown): number | null {
  return command.capValue ? command.capValue(input as never) : null;
}

async function auditStep(trx: Transaction<DB> | Kysely<DB>, deps: AppDeps, row: Row, step: { actor: StaffActor | typeof APPROVAL_SWEEPER; action: ActionName; outcome: "succeeded" | "failed" | "denied"; reason: string | null; after?: unknown; error?: string | null }) {
  await appendAudit(
    trx,
    {
      actor: step.actor,
      action: step.action,
      target: { type: row.target_type, id: row.target_id, accountId: row.account_id },
      ticketId: row.ticket_id,
      reason: step.reason,
      before: { approvalId: row.id, action: row.action, status: row.status },
      after: step.after ?? null,
      outcome: step.outcome,
      error: step.error ?? null,
    },
    deps.clock,
  );
}

/** `POST /api/approvals`: checks the request as the action would be checked, then stores it (201). */
export async function requestApproval(deps: AppDeps, actor: StaffActor, body: ApprovalCreate): Promise<ApprovalRequest> {
  const { db } = deps.database;
  const command = approvableCommand(body.action);
  if (!command) throw Problem.badRequest(`${body.action} cannot be asked for approval`, [{ field: "body.action", reason: "must be a support action other than impersonation" }]);
  const action = command.action as ActionName;
  const target = { type: body.targetType, id: body.targetId };
  assertTargetType(action, target);
  const input = parseInput(command, body.input);
  // The notice choice is checked now, as the action would check it, not first when an approver runs it.
  assertNoticeChoice(action, body.notifyCustomer);
  if (!roleAllows(actor.panelRole, action)) {
    const problem = Problem.forbidden("action_not_allowed", `${action} needs the ${actionRules[action].minRole} panel role; approval raises caps, not roles`, { action, panelRole: actor.panelRole });
    await recordDenial(deps, { actor, action: "approval.request", problem, target: { ...target, accountId: null }, ticketId: body.ticketId, reason: body.reason });
    throw problem;
  }
  const value = capValueOf(command, input);
  const marked = await approvalRequired(db, action);
  if (!marked && value === null) {
    throw new Problem(422, "approval_not_needed", "Unprocessable request", `${action} has no cap and is not marked as needing a second person: run it yourself`, { action });
  }
  if (!marked && value !== null && (await rolesThatCan(db, action, value)).length === 0) {
    throw new Problem(422, "approval_impossible", "Unprocessable request", `No panel role's cap allows ${value} for ${action}; an admin can change the cap`, { action, value });
  }
  const snapshot = await verifyTicket(deps, { actor, action: "approval.request", ticketId: body.ticketId, reason: body.reason, target, ticketOverrideReason: body.ticketOverrideReason, requestId: null });
  const loaded = await loadTarget(db, command.targetType, target.id);
  // A user's account too: the request and its decision are filed under it, as the action is.
  const accountId = loaded.accountId;
  let preview: unknown = null;
  if (command.preview) {
    try {
      preview = await command.preview(loaded as never, input as never, { deps, actor, ticketId: body.ticketId, reason: body.reason, requestId: null, operationId: `preview_${randomUUID()}`, now: deps.clock.now() });
    } catch (err) {
      preview = { unavailable: toProblem(err).detail ?? "preview failed" };
    }
  }
  const now = deps.clock.now();
  const row = await db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto("approval_requests")
      .values({
        id: `apr_${randomUUID()}`,
        action,
        target_type: target.type,
        target_id: target.id,
        account_id: accountId,
        ticket_id: body.ticketId,
        reason: body.reason,
        input: JSON.stringify({ ...(input as object), ...(body.ticketOverrideReason ? { ticketOverrideReason: body.ticketOverrideReason } : {}), ...(body.notifyCustomer !== undefined ? { notifyCustomer: body.notifyCustomer } : {}), ...(body.customerLocale ? { customerLocale: body.customerLocale } : {}) }),
        preview: preview === null ? null : JSON.stringify(preview),
        status: "pending",
        requested_by_staff_id: actor.staffId,
        requested_by_email: actor.email ?? "",
        requested_by_name: actor.name,
        requested_by_role: actor.panelRole,
        created_at: now,
        expires_at: new Date(now.getTime() + APPROVAL_TTL_MS),
        decided_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(
      trx,
      {
        actor,
        action: "approval.request",
        target: { type: target.type, id: target.id, accountId },
        ticketId: body.ticketId,
        reason: body.reason,
        after: { approvalId: inserted.id, action, input, notifyCustomer: body.notifyCustomer ?? null, why: marked ? "marked" : "over_cap", expiresAt: inserted.expires_at.toISOString() },
        outcome: "succeeded",
        ticketSnapshot: snapshot,
      },
      deps.clock,
    );
    return inserted;
  });
  return toApproval(row);
}

async function loadRow(db: Executor, id: string): Promise<Row> {
  const row = await db.selectFrom("approval_requests").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row) throw Problem.notFound(`No approval request ${id}`);
  return row;
}

/** Whether a staff member may see a request: operations and admin all; support their own, their tickets', and those they can decide. */
export async function canSee(db: Executor, actor: StaffActor, row: Row): Promise<boolean> {
  if (roleAtLeast(actor.panelRole, "operations")) return true;
  if (row.requested_by_staff_id === actor.staffId || row.decided_by_staff_id === actor.staffId) return true;
  if (row.status === "pending" && roleAllows(actor.panelRole, row.action as ActionName)) return true;
  const mine = await db.selectFrom("audit_log").select("id").where("actor_staff_id", "=", actor.staffId).where("ticket_id", "=", row.ticket_id).limit(1).executeTakeFirst();
  return Boolean(mine);
}

async function refuse(deps: AppDeps, actor: StaffActor, action: ActionName, row: Row, problem: Problem): Promise<never> {
  await recordDenial(deps, { actor, action, problem, target: { type: row.target_type, id: row.target_id, accountId: row.account_id }, ticketId: row.ticket_id, reason: null });
  throw problem;
}

/** The approver must be another person whose role and per-request cap allow the action. */
async function checkDecider(deps: AppDeps, actor: StaffActor, row: Row, step: "approval.approve" | "approval.reject"): Promise<void> {
  if (row.requested_by_staff_id === actor.staffId) await refuse(deps, actor, step, row, Problem.forbidden("self_approval", "Nobody approves or rejects their own request; another person whose role and caps allow it must decide"));
  const command = approvableCommand(row.action);
  if (!command) throw Problem.conflict("approval_invalid", `${row.action} can no longer be approved`);
  const value = capValueOf(command, row.input);
  const roles = await rolesThatCan(deps.database.db, row.action as ActionName, value);
  if (!roles.includes(actor.panelRole)) {
    await refuse(deps, actor, step, row, Problem.forbidden("approver_not_allowed", `${row.action}${value === null ? "" : ` for ${value}`} is beyond what ${actor.panelRole} may do; ${roles.join(" or ") || "no role"} can decide it`, { canApprove: roles }));
  }
}

async function expireIfDue(deps: AppDeps, row: Row): Promise<Row> {
  if (row.status !== "pending" || row.expires_at.getTime() > deps.clock.now().getTime()) return row;
  await expireApprovals(deps, { ids: [row.id] });
  return loadRow(deps.database.db, row.id);
}

function decided(row: Row): Problem {
  return Problem.conflict(`approval_${row.status}`, `This request is already ${row.status}${row.decided_by_email ? ` (by ${row.decided_by_email})` : ""}`, { approval: toApproval(row) });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The Idempotency-Key an approval's run goes under (its owner is whoever approved). */
const runKey = (id: string) => `approval:${id}`;

/**
 * The answer of a run an earlier approver finished without recording the decision (their process died,
 * or the database failed, between the action's commit and the decision's): that approver's key holds it.
 */
async function earlierRun(db: Executor, id: string): Promise<ActionResponse | null> {
  const rows = await db
    .selectFrom("idempotency_keys")
    .select("response")
    .where("staff_id", "in", db.selectFrom("staff").select("id"))
    .where("key", "=", runKey(id))
    .where("status", "=", "completed")
    .execute();
  for (const row of rows) {
    const response = (typeof row.response === "string" ? JSON.parse(row.response) : row.response) as ActionResponse;
    // Only a run of this request counts: anyone can send a key spelled like this with an action of their own.
    const ours = await db
      .selectFrom("audit_log")
      .select("id")
      .where("operation_id", "=", response.operationId)
      .where(sql<string>`approval->>'requestId'`, "=", id)
      .limit(1)
      .executeTakeFirst();
    if (ours) return { ...response, replayed: true };
  }
  return null;
}

/**
 * Approve: claim the request (one approver at a time; a double click finds its own claim and waits
 * for the first click's answer), run the action as the approver, record the decision. The action's
 * own Idempotency-Key is derived from the request, so even a retried approve runs it at most once.
 */
export async function approve(deps: AppDeps, actor: StaffActor, id: string): Promise<{ approval: ApprovalRequest; result: unknown }> {
  const { db } = deps.database;
  let row = await expireIfDue(deps, await loadRow(db, id));
  if (!(await canSee(db, actor, row))) throw Problem.notFound(`No approval request ${id}`);
  if (row.status === "approved" && row.decided_by_staff_id === actor.staffId) return { approval: toApproval(row), result: row.result };
  if (row.status !== "pending") throw decided(row);
  await checkDecider(deps, actor, row, "approval.approve");

  const now = deps.clock.now();
  // A lease like the account's: renewed while the run works, so a long run near the 24 h end is not expired under it.
  const claimMs = deps.config.OPERATION_LEASE_MS;
  const claimed = await db
    .updateTable("approval_requests")
    .set({ claimed_by: actor.staffId, claimed_until: new Date(Date.now() + claimMs) })
    .where("id", "=", id)
    .where("status", "=", "pending")
    .where((eb) => eb.or([eb("claimed_until", "is", null), eb("claimed_until", "<", new Date())]))
    .returningAll()
    .executeTakeFirst();
  if (!claimed) {
    // Someone holds it: our own other click waits for its answer; anyone else is told.
    for (let i = 0; i < 300; i++) {
      row = await loadRow(db, id);
      if (row.status !== "pending" || row.claimed_by !== actor.staffId) break;
      await sleep(100);
    }
    if (row.status === "approved" && row.decided_by_staff_id === actor.staffId) return { approval: toApproval(row), result: row.result };
    if (row.status !== "pending") throw decided(row);
    throw Problem.conflict("approval_in_progress", "Another approver is running this request right now", { retryable: true });
  }
  row = claimed;

  const command = approvableCommand(row.action) as AnyCommand;
  const { input, ticketOverrideReason, notifyCustomer, customerLocale } = splitStored(row.input);
  const target = { type: row.target_type, id: row.target_id };
  const approval = { requestId: row.id, requestedBy: { staffId: row.requested_by_staff_id, email: row.requested_by_email }, approvedBy: { staffId: actor.staffId, email: actor.email ?? "" } };
  const reason = `${row.reason} (approved by ${actor.email ?? actor.staffId})`;
  // The requester's notice choice goes with the run: the customer hears of it as the requester chose.
  const base = { actor, ticketId: row.ticket_id, reason, target, input, ticketOverrideReason, notifyCustomer, customerLocale, approval, requestId: null };
  let result: ActionResponse | null = null;
  let problem: Problem | null = null;
  const renewal = keepRenewing(
    () => db.updateTable("approval_requests").set({ claimed_until: new Date(Date.now() + claimMs) }).where("id", "=", id).where("status", "=", "pending").where("claimed_by", "=", actor.staffId).execute(),
    claimMs,
    (err) => deps.logger.warn({ err, approvalId: id }, "could not renew an approval claim"),
  );
  try {
    // Run at most once, whoever approves: a run already done is recorded, not repeated.
    result = await earlierRun(db, row.id);
    if (!result) {
      const expectedVersion = (await loadTarget(db, command.targetType, target.id)).version;
      let confirmationToken: string | undefined;
      if (command.preview && (actionRules[command.action as ActionName] as ActionRule).destructive) {
        confirmationToken = (await previewCommand(command, { ...base, expectedVersion }, deps)).confirmationToken;
      }
      result = await runCommand(command, { ...base, expectedVersion, confirmationToken, idempotencyKey: runKey(row.id) }, deps);
    }
  } catch (err) {
    problem = toProblem(err);
  } finally {
    renewal.stop();
  }

  // Refusals that say "not now / not you" leave the request pending for a later try or another approver.
  if (problem && (problem.status === 403 || problem.status === 503 || problem.code === "target_busy" || problem.code === "outcome_pending")) {
    await db.updateTable("approval_requests").set({ claimed_by: null, claimed_until: null }).where("id", "=", id).where("claimed_by", "=", actor.staffId).execute();
    throw problem;
  }
  const unknown = problem?.code === "outcome_unknown";
  let status: "failed" | "approved" = problem && !unknown ? "failed" : "approved";
  let outcome: unknown = problem ? { problem: { status: problem.status, code: problem.code, detail: problem.detail ?? problem.title, ...problem.extra } } : result;
  const final = await db.transaction().execute(async (trx) => {
    // The reconciler may have settled the unknown run already: record how it ended. Locked, so a close racing this
    // write either comes first (seen here) or after (its settleApproval finds this row).
    const operationId = unknown ? problem?.extra?.operationId : undefined;
    const settled = typeof operationId === "string" ? await trx.selectFrom("provider_operations").select(["status", "last_error"]).where("operation_id", "=", operationId).forUpdate().executeTakeFirst() : undefined;
    if (typeof operationId === "string" && (settled?.status === "succeeded" || settled?.status === "failed")) {
      status = settled.status === "failed" ? "failed" : "approved";
      outcome = settledRun(operationId, settled.status, settled.last_error);
    }
    const updated = await trx
      .updateTable("approval_requests")
      .set({ status, decided_by_staff_id: actor.staffId, decided_by_email: actor.email ?? "", decided_by_name: actor.name, decided_at: now, result: JSON.stringify(outcome), claimed_by: null, claimed_until: null })
      .where("id", "=", id)
      // Expired by the sweep during the run (its claim lapsed, say the process stalled): the run happened, so its outcome is recorded all the same.
      .where((eb) => eb.or([eb("status", "=", "pending"), eb.and([eb("status", "=", "expired"), eb("decided_by_staff_id", "is", null)])]))
      .returningAll()
      .executeTakeFirstOrThrow();
    await auditStep(trx, deps, row, { actor, action: "approval.approve", outcome: status === "failed" ? "failed" : "succeeded", reason: row.reason, after: { approvalId: row.id, status, requestedBy: approval.requestedBy }, error: problem && !unknown ? `${problem.code}: ${problem.detail ?? problem.title}` : null });
    return updated;
  });
  if (problem && !unknown) throw new Problem(problem.status, problem.code, problem.title, problem.detail, { ...problem.extra, approval: toApproval(final) });
  return { approval: toApproval(final), result: outcome };
}

export async function reject(deps: AppDeps, actor: StaffActor, id: string, reason: string): Promise<ApprovalRequest> {
  const { db } = deps.database;
  const row = await expireIfDue(deps, await loadRow(db, id));
  if (!(await canSee(db, actor, row))) throw Problem.notFound(`No approval request ${id}`);
  if (row.status !== "pending") throw decided(row);
  await checkDecider(deps, actor, row, "approval.reject");
  const now = deps.clock.now();
  return db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable("approval_requests")
      .set({ status: "rejected", decided_by_staff_id: actor.staffId, decided_by_email: actor.email ?? "", decided_by_name: actor.name, decision_reason: reason, decided_at: now })
      .where("id", "=", id)
      .where("status", "=", "pending")
      .where((eb) => eb.or([eb("claimed_until", "is", null), eb("claimed_until", "<", new Date())]))
      .returningAll()
      .executeTakeFirst();
    if (!updated) throw Problem.conflict("approval_in_progress", "The request was decided or is being approved right now; reload it");
    await auditStep(trx, deps, row, { actor, action: "approval.reject", outcome: "succeeded", reason, after: { approvalId: row.id, status: "rejected" } });
    return toApproval(updated);
  });
}

/** The sweep: pending requests past their 24 h end as expired, each exactly once (even from two processes). */
export async function expireApprovals(deps: AppDeps, options: { ids?: string[] } = {}): Promise<number> {
  const now = deps.clock.now();
  return deps.database.db.transaction().execute(async (trx) => {
    let query = trx
      .updateTable("approval_requests")
      .set({ status: "expired", decided_at: now, claimed_by: null, claimed_until: null })
      .where("status", "=", "pending")
      .where("expires_at", "<=", now)
      .where((eb) => eb.or([eb("claimed_until", "is", null), eb("claimed_until", "<", new Date())]));
    if (options.ids) query = query.where("id", "in", options.ids);
    const rows = await query.returningAll().execute();
    for (const row of rows) await auditStep(trx, deps, { ...row, status: "pending" }, { actor: APPROVAL_SWEEPER, action: "approval.expire", outcome: "succeeded", reason: "nobody decided within 24 hours", after: { approvalId: row.id, status: "expired" } });
    return rows.length;
  });
}

/** Admin: mark an action as always needing a second person, or unmark it. */
export async function setPolicy(deps: AppDeps, actor: StaffActor, change: { action: string; requiresApproval: boolean; reason: string }): Promise<string[]> {
  if (!approvableCommand(change.action)) throw Problem.badRequest(`${change.action} cannot need approval`, [{ field: "body.action", reason: "must be a support action other than impersonation" }]);
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (trx) => {
    const before = await approvalRequired(trx, change.action);
    await trx.deleteFrom("approval_policy").where("action", "=", change.action).execute();
    await trx.insertInto("approval_policy").values({ action: change.action, requires_approval: change.requiresApproval, updated_by: actor.staffId, updated_at: now }).execute();
    await appendAudit(trx, { actor, action: "approval.policy_set", target: { type: "system", id: `approval_policy:${change.action}`, accountId: null }, ticketId: null, reason: change.reason, before: { action: change.action, requiresApproval: before }, after: { action: change.action, requiresApproval: change.requiresApproval }, outcome: "succeeded" }, deps.clock);
  });
  return policyActions(deps.database.db);
}

export async function listApprovals(deps: AppDeps, actor: StaffActor, filter: { ticketId?: string | undefined; status?: string | undefined; for?: "me" | undefined }): Promise<ApprovalRequest[]> {
  const { db } = deps.database;
  let query = db.selectFrom("approval_requests").selectAll().orderBy("created_at", "desc").limit(200);
  if (filter.ticketId) query = query.where("ticket_id", "=", filter.ticketId);
  if (filter.status) query = query.where("status", "=", filter.status as Row["status"]);
  const rows = await query.execute();
  const out: ApprovalRequest[] = [];
  for (const row of rows) {
    if (!(await canSee(db, actor, row))) continue;
    if (filter.for === "me") {
      if (row.status !== "pending" || row.requested_by_staff_id === actor.staffId) continue;
      const command = approvableCommand(row.action);
      if (!command || !(await rolesThatCan(db, row.action as ActionName, capValueOf(command, row.input))).includes(actor.panelRole)) continue;
    }
    out.push(toApproval(row));
  }
  return out;
}
