import type { Request, RequestHandler } from "express";
import type { StaffActor } from "../actor.js";
import type { AppDeps } from "../deps.js";
import type { Staff } from "../db/schema.js";
import { Problem } from "../http/problem.js";
import { findStaffById, toStaffActor } from "../staff/staffQueries.js";
import { bearerToken, SessionTokenError, verifyRequestSession, type SessionClaims } from "./sessionToken.js";
import "./requestActor.js";

export interface AuthenticateOptions {
  /**
   * Authorise from the process's staff cache (auth/staffCache.ts). Only for routes whose answer is sent
   * after an audit entry for the actor is written: that entry checks the row is current, and on a
   * mismatch the request is authorised again from a fresh read (`req.reauthorize`).
   */
  cachedStaff?: boolean;
}

/**
 * Reads `Authorization: Bearer <session>`, verifies it, and loads the staff member — afresh, or from the
 * cache where the route allows it (see AuthenticateOptions) — so a role change or deactivation applies
 * to the very next call. Sets `req.actor`.
 */
export function authenticate(deps: AppDeps, options: AuthenticateOptions = {}): RequestHandler {
  return async (req, _res, next) => {
    try {
      const session = await verifyRequestSession(req, bearerToken(req.headers.authorization), deps);
      const cached = options.cachedStaff ? deps.staffCache?.get(session.staffId) : undefined;
      const actor = setActor(req, session, cached ?? (await freshStaff(deps, session)), cached !== undefined);
      if (options.cachedStaff && deps.staffCache) {
        req.reauthenticate = async () => {
          deps.staffCache?.delete(session.staffId);
          setActor(req, session, await freshStaff(deps, session), false);
        };
      }
      // Per agent, whatever their role (read-only and audit readers too): 429 once over the limit.
      await deps.rateLimits?.checkAgent(req, actor);
      next();
    } catch (err) {
      if (err instanceof SessionTokenError) req.log?.warn({ code: err.code }, "session rejected");
      next(err);
    }
  };
}

async function freshStaff(deps: AppDeps, session: SessionClaims): Promise<Staff | undefined> {
  const staff = await findStaffById(deps.database.db, session.staffId);
  if (staff && staff.active && staff.zendesk_user_id === session.zendeskUserId) deps.staffCache?.set(staff);
  else deps.staffCache?.delete(session.staffId);
  return staff;
}

function setActor(req: Request, session: SessionClaims, staff: Staff | undefined, fromCache: boolean): StaffActor {
  if (!staff || staff.zendesk_user_id !== session.zendeskUserId) throw new SessionTokenError("missing_user");
  if (!staff.active) throw Problem.forbidden("staff_inactive", "Your panel access has been removed; ask a Steward admin");
  req.actor = fromCache ? { ...toStaffActor(staff), cachedAsOf: staff.updated_at } : toStaffActor(staff);
  req.session = session;
  return req.actor;
}
