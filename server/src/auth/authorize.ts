import type { RequestHandler } from "express";
import type { ActionName } from "../../../shared/actions.js";
import type { AppDeps } from "../deps.js";
import { Problem } from "../http/problem.js";
import { authenticate } from "./authenticate.js";
import { assertAllowed } from "./permissions.js";
import { recordDenial } from "./recordDenial.js";
import { requireActor } from "./requestActor.js";

/** Lets the request through if `req.actor`'s role may do the action; otherwise 403, audited as `denied`. */
export function authorize(deps: AppDeps, action: ActionName): RequestHandler {
  return async (req, _res, next) => {
    try {
      const actor = requireActor(req);
      try {
        assertAllowed(actor, action);
      } catch (err) {
        if (err instanceof Problem) await recordDenial(deps, { actor, action, problem: err, req });
        throw err;
      }
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** `before:` middleware for a route: a valid session, then permission for the action. */
export function guard(deps: AppDeps, action: ActionName): RequestHandler[] {
  return [authenticate(deps), authorize(deps, action)];
}
