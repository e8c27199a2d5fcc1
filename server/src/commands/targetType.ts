import type { RequestHandler } from "express";
import { actionRules, type ActionName } from "../../../shared/actions.js";
import { Problem } from "../http/problem.js";

/**
 * Each action acts on one kind of target (shared/actions.ts). A request naming another kind is
 * refused with 400 before anything is audited or any provider is called.
 */
export function assertTargetType(action: ActionName, target: unknown): void {
  const expected = actionRules[action].target;
  const given = typeof target === "object" && target !== null ? (target as { type?: unknown }).type : undefined;
  if (given === expected) return;
  throw Problem.badRequest(`${action} acts on a ${expected}`, [{ field: "body.target.type", reason: `must be "${expected}" for ${action}` }]);
}

/** Route middleware form, placed after authentication and before the permission check (whose denial is audited). */
export function requireTargetType(action: ActionName): RequestHandler {
  return (req, _res, next) => {
    try {
      assertTargetType(action, ((req.body ?? {}) as { target?: unknown }).target);
      next();
    } catch (err) {
      next(err);
    }
  };
}
