import type { Request } from "express";
import type { StaffActor } from "../actor.js";
import { SessionTokenError, type SessionClaims } from "./sessionToken.js";

declare module "express-serve-static-core" {
  interface Request {
    /** The signed-in staff member, set by `authenticate` (role read fresh from the database). */
    actor?: StaffActor;
    /** The verified session behind `actor`, for renewal. */
    session?: SessionClaims;
    /** Present when `actor` may have come from the staff cache: reloads it afresh (authenticate.ts). */
    reauthenticate?: () => Promise<void>;
    /** reauthenticate, then the route's permission check again (authorize.ts); the route retries once. */
    reauthorize?: () => Promise<void>;
  }
}

/** The authenticated actor; a route reached without `authenticate` answers 401 rather than acting anonymously. */
export function requireActor(req: Request): StaffActor {
  if (!req.actor) throw new SessionTokenError("missing");
  return req.actor;
}
