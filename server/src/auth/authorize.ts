import type { RequestHandler } from "express";
import type { ActionName } from "../../../shared/actions.js";
import type { AppDeps } from "../deps.js";
import { Problem } from "../http/problem.js";
import { capRuleOf } from "../staff/caps.js";
import { authenticate } from "./authenticate.js";
import { assertAllowed, checkCap } from "./permissions.js";
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

/**
 * For capped actions whose body carries the capped number as-is (e.g. `days`, `amountCents`): 403
 * `over_cap`, audited, when it exceeds the role's cap. A missing or non-numeric field is left to validation.
 */
export function enforceCap(deps: AppDeps, action: ActionName): RequestHandler {
  const rule = capRuleOf(action);
  if (!rule) throw new Error(`${action} has no cap in shared/actions.ts`);
  return async (req, _res, next) => {
    try {
      const actor = requireActor(req);
      const value = ((req.body ?? {}) as Record<string, unknown>)[rule.field];
      if (typeof value === "number" && Number.isFinite(value)) {
        try {
          await checkCap(deps.database.db, actor, action, value);
        } catch (err) {
          if (err instanceof Problem) await recordDenial(deps, { actor, action, problem: err, req });
          throw err;
        }
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
