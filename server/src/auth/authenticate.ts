import type { RequestHandler } from "express";
import type { AppDeps } from "../deps.js";
import { Problem } from "../http/problem.js";
import { findStaffById, toStaffActor } from "../staff/staffQueries.js";
import { bearerToken, SessionTokenError, verifySessionToken } from "./sessionToken.js";
import "./requestActor.js";

/**
 * Reads `Authorization: Bearer <session>`, verifies it, and loads the staff member afresh on every
 * request, so a role change or deactivation applies to the very next call. Sets `req.actor`.
 */
export function authenticate(deps: AppDeps): RequestHandler {
  return async (req, _res, next) => {
    try {
      const session = await verifySessionToken(bearerToken(req.headers.authorization), deps);
      const staff = await findStaffById(deps.database.db, session.staffId);
      if (!staff || staff.zendesk_user_id !== session.zendeskUserId) throw new SessionTokenError("missing_user");
      if (!staff.active) throw Problem.forbidden("staff_inactive", "Your panel access has been removed; ask a Steward admin");
      req.actor = toStaffActor(staff);
      req.session = session;
      // Per agent, whatever their role (read-only and audit readers too): 429 once over the limit.
      await deps.rateLimits?.checkAgent(req, req.actor);
      next();
    } catch (err) {
      if (err instanceof SessionTokenError) req.log?.warn({ code: err.code }, "session rejected");
      next(err);
    }
  };
}
