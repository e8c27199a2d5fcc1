import { Router } from "express";
import { z } from "zod";
import { actionRules } from "../../../../shared/actions.js";
import { ActionPreviewResponse, ActionResponse, Reason, actionInputs, actionRequest, type SupportActionName } from "../../../../shared/schemas/actions.js";
import { requireActor } from "../../auth/requestActor.js";
import { commands } from "../../commands/registry.js";
import { requireTargetType } from "../../commands/targetType.js";
import { authenticate } from "../../auth/authenticate.js";
import { authorize, guard } from "../../auth/authorize.js";
import { availableActions } from "../../commands/availability.js";
import { AvailableActions, AvailableActionsQuery } from "../../../../shared/schemas/availability.js";
import { previewCommand, runCommand } from "../../commands/runCommand.js";
import type { AppDeps } from "../../deps.js";
import { Problem } from "../../http/problem.js";
import { route } from "../../http/route.js";

const IdempotencyKey = z.string().trim().min(8, "at least 8 characters").max(200, "at most 200 characters");

const errorResponses = {
  202: "outcome_unknown (problem+json with operationId): the provider's answer was lost (timeout, dropped connection, failed read-back, crash); the action may have happened. Steward's reconciler finishes or closes it; a retry with the same Idempotency-Key answers with the real outcome once settled",
  403: "The panel role may not do this action, or the value is over the role's cap (the body names the action, the required role or the cap)",
  404: "The target does not exist",
  409: "The target changed since it was loaded (stale_version), the transition is not allowed, the confirmation no longer matches, another write to the account is in progress (target_busy), or an earlier action on it is still unsettled (outcome_pending)",
  422: "The Idempotency-Key was used for a different request",
  428: "A destructive action was sent without a confirmation token from its preview",
  502: "The identity or billing provider refused or failed before changing anything; the attempt is audited as failed",
  504: "The provider timed out while Steward was reading from it, before any change; the attempt is audited as failed",
} as const;

/** `GET /api/actions/available`; `POST /api/actions/<action>` for every support command, and `/preview` for every one that moves money or access (destructive ones need its token). */
export function actionRoutes(deps: AppDeps): Router {
  const router = Router();
  route(
    router,
    {
      method: "get",
      path: "/api/actions/available",
      summary: "Every support action on a user or account as available, or unavailable with the reason (state, role, cap left, no billing) — the checks the actions themselves run",
      tags: ["actions"],
      query: AvailableActionsQuery,
      responses: { 200: AvailableActions, 403: "Panel role too low", 404: errorResponses[404] },
      before: guard(deps, "context.view"),
    },
    async ({ query, req }) => availableActions(deps, requireActor(req), query),
  );
  for (const [name, command] of commands) {
    const rule = actionRules[name as SupportActionName];
    // The target's type is checked before the permission check, so no denial is audited against a wrong target.
    const before = [authenticate(deps), requireTargetType(name), authorize(deps, name)];
    const body = actionRequest(actionInputs[name]);
    route(
      router,
      {
        method: "post",
        path: `/api/actions/${name}`,
        summary: rule.summary,
        tags: ["actions"],
        body,
        headers: [{ name: "Idempotency-Key", description: "Makes retries safe: the same key returns the first result and performs nothing twice" }],
        responses: { 200: ActionResponse, ...errorResponses },
        before,
      },
      async ({ body: request, req }) => {
        const header = req.get("idempotency-key");
        const parsedKey = header === undefined ? undefined : IdempotencyKey.safeParse(header);
        if (parsedKey && !parsedKey.success) throw Problem.badRequest("The Idempotency-Key header is invalid", [{ field: "header.Idempotency-Key", reason: parsedKey.error.issues[0]?.message ?? "invalid" }]);
        const key = parsedKey?.data;
        return runCommand(command, { ...request, actor: requireActor(req), idempotencyKey: key, requestId: String(req.id ?? "") || null }, deps);
      },
    );
    if (!command.preview) continue;
    route(
      router,
      {
        method: "post",
        path: `/api/actions/${name}/preview`,
        summary: `Preview: ${rule.summary} — effects and a confirmation token valid 5 minutes`,
        tags: ["actions"],
        // A preview writes and records nothing, so it needs no reason yet: the sidebar shows it as the form opens.
        body: body.omit({ confirmationToken: true }).extend({ reason: Reason.optional() }),
        responses: { 200: ActionPreviewResponse, 403: errorResponses[403], 404: errorResponses[404], 409: errorResponses[409], 502: errorResponses[502] },
        before,
      },
      async ({ body: request, req }) => previewCommand(command, { ...request, reason: request.reason ?? "", actor: requireActor(req), requestId: String(req.id ?? "") || null }, deps),
    );
  }
  return router;
}
