import { Router } from "express";
import { CapChange, CapList } from "../../../../shared/schemas/staff.js";
import { authenticate } from "../../auth/authenticate.js";
import { guard } from "../../auth/authorize.js";
import { requireActor } from "../../auth/requestActor.js";
import type { AppDeps } from "../../deps.js";
import { route } from "../../http/route.js";
import { listCaps } from "../../staff/caps.js";
import { changeCaps } from "../../staff/changeCaps.js";

/** Per-role caps (credit, trial days, seats, elevation hours): readable by all staff, changed by admins. */
export function capsRoutes(deps: AppDeps): Router {
  const router = Router();
  const { db } = deps.database;

  route(
    router,
    // Any signed-in staff member may read the limits: the app shows them next to the inputs.
    { method: "get", path: "/api/caps", summary: "The caps in force per panel role, with their defaults", tags: ["staff"], before: [authenticate(deps)], responses: { 200: CapList } },
    async () => ({ caps: await listCaps(db) }),
  );

  route(
    router,
    {
      method: "put",
      path: "/api/caps",
      summary: "Set (or reset with limit null) per-role caps; audited with before and after (staff.caps_change)",
      tags: ["staff"],
      before: guard(deps, "staff.caps_change"),
      body: CapChange,
      responses: { 200: CapList, 403: "Needs admin" },
    },
    async ({ body, req }) => {
      const actor = requireActor(req);
      await db.transaction().execute((trx) =>
        changeCaps(trx, deps.clock, { actor, changes: body.changes, reason: body.reason, ticketId: body.ticketId ?? null, requestId: String(req.id) }),
      );
      return { caps: await listCaps(db) };
    },
  );
  return router;
}
