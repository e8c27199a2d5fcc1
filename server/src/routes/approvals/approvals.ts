import { Router } from "express";
import { z } from "zod";
import { ApprovalCreate, ApprovalDecision, ApprovalListResponse, ApprovalPolicy, ApprovalPolicySet, ApprovalQuery, ApprovalResponse } from "../../../../shared/schemas/approval.js";
import { guard } from "../../auth/authorize.js";
import { requireActor } from "../../auth/requestActor.js";
import { approve, listApprovals, policyActions, reject, requestApproval, setPolicy } from "../../commands/approval/approvals.js";
import type { AppDeps } from "../../deps.js";
import { Problem } from "../../http/problem.js";
import { route } from "../../http/route.js";

const Params = z.object({ id: z.string().regex(/^apr_[0-9a-f-]{36}$/, "must be an approval request id") });
const IdempotencyKey = z.string().trim().min(8, "at least 8 characters").max(200, "at most 200 characters");

/** Two-person approval (commands/approval/approvals.ts): request, list, approve, reject; the admin's policy. */
export function approvalRoutes(deps: AppDeps): Router {
  const router = Router();

  route(
    router,
    { method: "get", path: "/api/approvals/policy", summary: "Actions that always need a second person", tags: ["approvals"], before: guard(deps, "context.view"), responses: { 200: ApprovalPolicy } },
    async () => ({ actions: await policyActions(deps.database.db) }),
  );

  route(
    router,
    { method: "put", path: "/api/approvals/policy", summary: "Admin: mark an action as needing a second person (or not); audited", tags: ["approvals"], body: ApprovalPolicySet, before: guard(deps, "approval.policy_set"), responses: { 200: ApprovalPolicy } },
    async ({ body, req }) => ({ actions: await setPolicy(deps, requireActor(req), body) }),
  );

  route(
    router,
    {
      method: "post",
      path: "/api/approvals",
      summary: "Ask a second person to run an action over your cap or marked as needing approval (same fields as the action)",
      tags: ["approvals"],
      body: ApprovalCreate,
      before: guard(deps, "approval.request"),
      responses: { 201: ApprovalResponse, 403: "Your role may not do the action at all, or the ticket does not match", 422: "The action needs no approval, or no role could approve it", 503: "Zendesk could not be read to check the ticket" },
    },
    async ({ body, req, res }) => {
      const approval = await requestApproval(deps, requireActor(req), body);
      res.status(201).json({ approval });
    },
  );

  route(
    router,
    { method: "get", path: "/api/approvals", summary: "Approval requests you may see (for=me: pending ones you can decide)", tags: ["approvals"], query: ApprovalQuery, before: guard(deps, "context.view"), responses: { 200: ApprovalListResponse } },
    async ({ query, req }) => ({ approvals: await listApprovals(deps, requireActor(req), query) }),
  );

  route(
    router,
    {
      method: "post",
      path: "/api/approvals/:id/approve",
      summary: "Approve someone else's request: runs the action with your role and caps, both of you recorded",
      tags: ["approvals"],
      params: Params,
      headers: [{ name: "Idempotency-Key", description: "Optional; the action runs at most once per request whatever the key" }],
      before: guard(deps, "approval.approve"),
      responses: { 200: z.object({ approval: ApprovalResponse.shape.approval, result: z.unknown() }), 403: "Your own request, or beyond your role or caps", 409: "Already decided, expired, or being approved" },
    },
    async ({ params, req }) => {
      const header = req.get("idempotency-key");
      if (header !== undefined && !IdempotencyKey.safeParse(header).success) throw Problem.badRequest("The Idempotency-Key header is invalid", [{ field: "header.Idempotency-Key", reason: "8 to 200 characters" }]);
      return approve(deps, requireActor(req), params.id);
    },
  );

  route(
    router,
    { method: "post", path: "/api/approvals/:id/reject", summary: "Reject someone else's request, with a reason", tags: ["approvals"], params: Params, body: ApprovalDecision, before: guard(deps, "approval.reject"), responses: { 200: ApprovalResponse, 403: "Your own request, or beyond your role", 409: "Already decided" } },
    async ({ params, body, req }) => ({ approval: await reject(deps, requireActor(req), params.id, body.reason) }),
  );

  return router;
}
