import { Router } from "express";
import { z } from "zod";
import { StaffChange, StaffGrant, StaffList, StaffMember } from "../../../../shared/schemas/staff.js";
import { authenticate } from "../../auth/authenticate.js";
import { authorize, guard } from "../../auth/authorize.js";
import { requireActor } from "../../auth/requestActor.js";
import type { Staff } from "../../db/schema.js";
import type { AppDeps } from "../../deps.js";
import { Problem } from "../../http/problem.js";
import { route } from "../../http/route.js";
import { changeStaffAccess } from "../../staff/changeStaffAccess.js";
import { changeStaffRole } from "../../staff/changeStaffRole.js";
import { listStaff, toStaffMember } from "../../staff/staffQueries.js";

function isDeactivation(body: unknown): boolean {
  const b = (body ?? {}) as Record<string, unknown>;
  return b.active === false && b.panelRole === undefined;
}

const StaffParams = z.object({ staffId: z.string().min(1).max(64) });

/** Panel administration (admins): who has access and with which role. Every change is audited. */
export function staffRoutes(deps: AppDeps): Router {
  const router = Router();
  const { db } = deps.database;
  const grant = authorize(deps, "staff.grant");
  const deactivate = authorize(deps, "staff.deactivate");

  route(
    router,
    { method: "get", path: "/api/staff", summary: "List panel staff", tags: ["staff"], before: guard(deps, "staff.list"), responses: { 200: StaffList, 403: "Needs admin" } },
    async () => ({ staff: (await listStaff(db)).map(toStaffMember) }),
  );

  route(
    router,
    {
      method: "post",
      path: "/api/staff",
      summary: "Add a Zendesk agent as staff, or change the role of one already known (staff.grant)",
      tags: ["staff"],
      before: guard(deps, "staff.grant"),
      body: StaffGrant,
      responses: { 200: StaffMember, 403: "Needs admin", 409: "Would remove the last admin (last_admin)" },
    },
    async ({ body, req }) => {
      const actor = requireActor(req);
      const { staff } = await db.transaction().execute((trx) =>
        changeStaffRole(trx, deps.clock, {
          actor,
          target: { zendeskUserId: body.zendeskUserId, email: body.email ?? null, name: body.name ?? null },
          panelRole: body.panelRole,
          reason: body.reason,
          ticketId: body.ticketId ?? null,
          requestId: String(req.id),
        }),
      );
      return toStaffMember(staff);
    },
  );

  route(
    router,
    {
      method: "patch",
      path: "/api/staff/:staffId",
      summary: "Change a staff member's panel role (staff.grant) and/or access (staff.deactivate)",
      tags: ["staff"],
      // A pure deactivation is checked (and a refusal audited) as staff.deactivate; each command checks again.
      before: [authenticate(deps), (req, res, next) => (isDeactivation(req.body) ? deactivate : grant)(req, res, next)],
      params: StaffParams,
      body: StaffChange,
      responses: { 200: StaffMember, 403: "Needs admin", 404: "No such staff member", 409: "Would remove the last active admin (last_admin)" },
    },
    async ({ body, params, req }) => {
      const actor = requireActor(req);
      const common = { actor, reason: body.reason, ticketId: body.ticketId ?? null, requestId: String(req.id) };
      // Role and access change together or not at all; deactivation is applied last so a demotion is checked against current admins.
      const staff = await db.transaction().execute(async (trx) => {
        let row: Staff | undefined;
        if (body.active === true) row = (await changeStaffAccess(trx, deps.clock, { ...common, staffId: params.staffId, active: true })).staff;
        if (body.panelRole) row = (await changeStaffRole(trx, deps.clock, { ...common, target: { staffId: params.staffId }, panelRole: body.panelRole })).staff;
        if (body.active === false) row = (await changeStaffAccess(trx, deps.clock, { ...common, staffId: params.staffId, active: false })).staff;
        return row;
      });
      if (!staff) throw Problem.notFound(`No staff member ${params.staffId}`);
      return toStaffMember(staff);
    },
  );
  return router;
}
