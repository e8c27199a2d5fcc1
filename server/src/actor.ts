import type { PanelRole } from "../../shared/roles.js";

/** Who performs an action: a staff member with their panel role at that moment, or Steward itself. */
export interface StaffActor {
  kind: "staff";
  staffId: string;
  zendeskUserId: string;
  email: string | null;
  name: string | null;
  panelRole: PanelRole;
  /**
   * Set when the request was authorised from a cached staff row: the row's updated_at. Every audit entry
   * written for this actor then checks in the same statement that the row is still that one
   * (auth/staffCache.ts), so a stale cache can never let a request through.
   */
  cachedAsOf?: Date;
}

export interface SystemActor {
  kind: "system";
  /** What part of Steward acted, e.g. "sweeper" or "mailer". */
  component: string;
}

export type Actor = StaffActor | SystemActor;

export function systemActor(component: string): SystemActor {
  return { kind: "system", component };
}
