import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import { PanelRole } from "../../../../shared/roles.js";
import { ZendeskUserId } from "../../../../shared/schemas/staff.js";
import { systemActor } from "../../actor.js";
import { systemClock } from "../../clock.js";
import { changeStaffAccess } from "../../staff/changeStaffAccess.js";
import { changeStaffRole } from "../../staff/changeStaffRole.js";
import { openCliDatabase, requireMigrated } from "./cliDatabase.js";
import { UsageError } from "./command.js";

function operator(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

/** `staff grant`: gives a Zendesk agent a panel role from the shell (bootstrap the first admin), audited as Steward's CLI. */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "zendesk-user": { type: "string" },
      role: { type: "string" },
      email: { type: "string" },
      name: { type: "string" },
      reason: { type: "string" },
      database: { type: "string" },
      "data-dir": { type: "string" },
    },
  });
  if (values["zendesk-user"] === undefined) throw new UsageError("--zendesk-user: required (the agent's Zendesk user id)");
  const zendeskUserId = ZendeskUserId.safeParse(values["zendesk-user"]);
  if (!zendeskUserId.success) throw new UsageError(`--zendesk-user: ${zendeskUserId.error.issues[0]?.message ?? "required"}`);
  if (values.role === undefined) throw new UsageError(`--role: required (one of ${PanelRole.options.join(", ")})`);
  const role = PanelRole.safeParse(values.role);
  if (!role.success) throw new UsageError(`--role: expected one of ${PanelRole.options.join(", ")}`);

  const database = await openCliDatabase({ database: values.database, dataDir: values["data-dir"] });
  try {
    if (!(await requireMigrated(database))) return 1;
    const actor = systemActor(`cli:${operator()}`);
    const reason = values.reason ?? "Granted from the command line (npm run steward -- staff grant)";
    const result = await database.db.transaction().execute(async (trx) => {
      const granted = await changeStaffRole(trx, systemClock, {
        actor,
        target: { zendeskUserId: zendeskUserId.data, email: values.email ?? null, name: values.name ?? null },
        panelRole: role.data,
        reason,
        ticketId: null,
      });
      // A grant from the shell means "let them in": give back access that had been removed.
      if (granted.staff.active) return granted;
      const reactivated = await changeStaffAccess(trx, systemClock, { actor, staffId: granted.staff.id, active: true, reason, ticketId: null });
      return { staff: reactivated.staff, changed: true };
    });
    const s = result.staff;
    process.stdout.write(
      `${result.changed ? "granted" : "unchanged"}: ${s.id} (Zendesk user ${s.zendesk_user_id}${s.email ? `, ${s.email}` : ""}) is ${s.panel_role}${s.active ? "" : " (inactive)"}\n`,
    );
    return 0;
  } finally {
    await database.close();
  }
}
