import { describe, expect, it } from "vitest";
import { actionNames, actionRules, type ActionName } from "../../../shared/actions.js";
import { panelRoles, type PanelRole } from "../../../shared/roles.js";
import { systemActor, type StaffActor } from "../../src/actor.js";
import { assertAllowed } from "../../src/auth/permissions.js";

// assertAllowed alone, no app or database (the HTTP side and the table's completeness: permissions.test.ts), so
// each mutation re-run of these costs a fraction of a second.

/** The panel hierarchy spelled out independently of shared/roles.ts. */
const RANK: Record<PanelRole, number> = { support_read_only: 0, support_full: 1, operations: 2, admin: 3 };
function expectedAllowed(action: ActionName, role: PanelRole): boolean {
  const min = actionRules[action].minRole;
  return min !== "system" && RANK[role] >= RANK[min];
}

const actorFor = (role: PanelRole): StaffActor => ({ kind: "staff", staffId: `stf_${role}`, zendeskUserId: "1", email: null, name: null, panelRole: role });
const matrix = actionNames.flatMap((action) => panelRoles.map((role) => [action, role] as const));

describe("assertAllowed: every action × every panel role", () => {
  it.each(matrix)("%s as %s", (action, role) => {
    const call = () => assertAllowed(actorFor(role), action);
    if (expectedAllowed(action, role)) {
      expect(call).not.toThrow();
    } else {
      let thrown: unknown;
      try {
        call();
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toMatchObject({ status: 403, code: "action_not_allowed", extra: { action, requiredRole: actionRules[action].minRole, panelRole: role } });
    }
  });

  it("lets Steward itself do system actions, which no staff role may do", () => {
    expect(() => assertAllowed(systemActor("sweeper"), "seats.expansion_expire")).not.toThrow();
    for (const role of panelRoles) expect(() => assertAllowed(actorFor(role), "mail.deliver")).toThrow(/done by Steward itself/);
  });
});
