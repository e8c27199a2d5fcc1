import { Router } from "express";
import { SessionGrant, SessionInfo, SessionRequest } from "../../../../shared/schemas/session.js";
import { authenticate } from "../../auth/authenticate.js";
import { grantSession, openSession, sessionInfo } from "../../auth/openSession.js";
import { requireActor } from "../../auth/requestActor.js";
import { SessionTokenError } from "../../auth/sessionToken.js";
import { zafTrust } from "../../auth/zafTrust.js";
import type { AppDeps } from "../../deps.js";
import { route } from "../../http/route.js";
import { findStaffById } from "../../staff/staffQueries.js";

/** Sessions: exchange a ZAF token for a Steward session, renew it, and read who it is for. */
export function sessionRoutes(deps: AppDeps): Router {
  // Production refuses to start with an unusable app key or the demo key; demo mode makes its key on first use.
  if (!deps.config.demo) zafTrust(deps.config);
  const router = Router();
  route(
    router,
    {
      method: "post",
      path: "/api/session",
      summary: "Exchange the ZAF token Zendesk signed for a Steward session",
      tags: ["session"],
      authenticated: false,
      body: SessionRequest,
      responses: { 200: SessionGrant, 401: "The ZAF token was rejected (code zaf_token_<reason>; zaf_token_replayed when it was used before)", 403: "No panel access (no_panel_access, staff_inactive)" },
    },
    ({ body, req }) => openSession(deps, body.token, req.log, String(req.id ?? "") || null),
  );
  route(
    router,
    {
      method: "post",
      path: "/api/session/renew",
      summary: "Renew a valid session (role read afresh; never beyond 12 h after Zendesk vouched for the agent)",
      tags: ["session"],
      before: [authenticate(deps)],
      responses: { 200: SessionGrant, 403: "Panel access removed" },
    },
    async ({ req }) => {
      const actor = requireActor(req);
      const staff = await findStaffById(deps.database.db, actor.staffId);
      if (!staff || !req.session) throw new SessionTokenError("missing_user");
      return grantSession(deps, staff, req.session.authTime);
    },
  );
  route(
    router,
    { method: "get", path: "/api/session", summary: "The signed-in staff member and what they may do now", tags: ["session"], before: [authenticate(deps)], responses: { 200: SessionInfo } },
    async ({ req }) => {
      const actor = requireActor(req);
      const staff = await findStaffById(deps.database.db, actor.staffId);
      if (!staff || !req.session) throw new SessionTokenError("missing_user");
      return sessionInfo(deps, staff, req.session.expiresAt);
    },
  );
  return router;
}
