import type { Request, RequestHandler } from "express";
import type { ActionName } from "../../../shared/actions.js";
import type { AppDeps } from "../deps.js";
import { authenticate, type AuthenticateOptions } from "./authenticate.js";
import { isStaffChanged } from "../db/databaseFaults.js";
import { actionDenied, roleAllows } from "./permissions.js";
import { recordDenial } from "./recordDenial.js";
import { requireActor } from "./requestActor.js";

/** Lets the request through if `req.actor`'s role may do the action; otherwise 403, audited as `denied`. */
export function authorize(deps: AppDeps, action: ActionName): RequestHandler {
  const check = async (req: Request) => {
    const actor = requireActor(req);
    if (roleAllows(actor.panelRole, action)) return;
    const problem = actionDenied(action, actor.panelRole);
    await recordDenial(deps, { actor, action, problem, req });
    throw problem;
  };
  return async (req, _res, next) => {
    try {
      const reauthenticate = req.reauthenticate;
      if (reauthenticate) {
        req.reauthorize = async () => {
          await reauthenticate();
          await check(req);
        };
      }
      // A denial recorded for a cached actor whose row changed: decide again on the fresh row.
      await check(req).catch(async (err: unknown) => {
        if (!isStaffChanged(err) || !req.reauthorize) throw err;
        await req.reauthorize();
      });
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** `before:` middleware for a route: a valid session, then permission for the action. */
export function guard(deps: AppDeps, action: ActionName, options: AuthenticateOptions = {}): RequestHandler[] {
  return [authenticate(deps, options), authorize(deps, action)];
}
