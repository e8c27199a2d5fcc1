import { decodeJwt } from "jose";
import type { Logger } from "pino";
import type { SessionGrant, SessionInfo } from "../../../shared/schemas/session.js";
import type { AppDeps } from "../deps.js";
import type { Staff } from "../db/schema.js";
import { Problem } from "../http/problem.js";
import { planNames } from "../providers/planCatalog.js";
import { staffForAgent } from "../staff/firstVisit.js";
import { permissionsFor } from "./permissions.js";
import { issueSessionToken } from "./sessionToken.js";
import { verifyZafToken, ZafTokenError, type ZafAgent } from "./zafToken.js";
import { zafTrust } from "./zafTrust.js";

/** The claims an operator needs to fix a set-up mistake (wrong subdomain, installation id), never the token itself. */
function claimsSeen(token: string): { iss: unknown; aud: unknown; exp: unknown } | null {
  try {
    const { iss, aud, exp } = decodeJwt(token);
    return { iss: iss ?? null, aud: aud ?? null, exp: exp ?? null };
  } catch {
    return null;
  }
}

/** Verifies a ZAF token, logging a refusal with what was expected and what arrived (never the token). Writes nothing. */
export async function verifyAgent(deps: Pick<AppDeps, "config" | "clock">, token: string, log: Logger): Promise<ZafAgent> {
  const trust = zafTrust(deps.config);
  try {
    return await verifyZafToken(token, trust, deps.clock);
  } catch (err) {
    if (err instanceof ZafTokenError) {
      const received = claimsSeen(token);
      const hint = `expected iss ${trust.issuer} and aud ${trust.audience}, got iss ${JSON.stringify(received?.iss ?? null)} and aud ${JSON.stringify(received?.aud ?? null)}`;
      log.warn({ code: err.code, expected: { iss: trust.issuers, aud: trust.audience }, received, hint }, "ZAF token rejected");
    }
    throw err;
  }
}

/** The session view of a staff member: who they are and what they may do, read now. */
export async function sessionInfo(deps: Pick<AppDeps, "database">, staff: Staff, expiresAt: Date): Promise<SessionInfo> {
  return {
    expiresAt: expiresAt.toISOString(),
    staff: { id: staff.id, zendeskUserId: staff.zendesk_user_id, email: staff.email, name: staff.name, panelRole: staff.panel_role },
    permissions: await permissionsFor(deps.database.db, staff.panel_role),
    plans: planNames(),
  };
}

export function assertActive(staff: Staff): void {
  if (!staff.active) throw Problem.forbidden("staff_inactive", "Your panel access has been removed; ask a Steward admin");
}

/** Issues a session for a staff member (new, or renewing one that keeps its original auth time). */
export async function grantSession(deps: Pick<AppDeps, "config" | "clock" | "database">, staff: Staff, authTime?: number): Promise<SessionGrant> {
  assertActive(staff);
  const { token, expiresAt } = await issueSessionToken(deps, { staffId: staff.id, zendeskUserId: staff.zendesk_user_id, authTime });
  return { sessionToken: token, ...(await sessionInfo(deps, staff, expiresAt)) };
}

/** ZAF token → the agent's staff record (created on first visit) → a Steward session. */
export async function openSession(deps: Pick<AppDeps, "config" | "clock" | "database">, token: string, log: Logger): Promise<SessionGrant> {
  const agent = await verifyAgent(deps, token, log);
  const staff = await staffForAgent(deps, agent);
  return grantSession(deps, staff);
}
