import type { Kysely, Transaction } from "kysely";
import type { StaffMember } from "../../../shared/schemas/staff.js";
import type { StaffActor } from "../actor.js";
import { preparedStatement } from "../db/database.js";
import type { DB, Staff } from "../db/schema.js";

type Executor = Kysely<DB> | Transaction<DB>;

/**
 * Every authenticated request reads this: a named statement, planned once per connection. Its columns are
 * listed, not `*`, so a column a later migration adds cannot change the prepared statement's result type.
 */
export async function findStaffById(db: Executor, staffId: string): Promise<Staff | undefined> {
  return db
    .selectFrom("staff")
    .modifyFront(preparedStatement("staff_by_id"))
    .select(["id", "zendesk_user_id", "email", "name", "panel_role", "active", "created_at", "updated_at"])
    .where("id", "=", staffId)
    .executeTakeFirst();
}

export async function findStaffByZendeskUserId(db: Executor, zendeskUserId: string): Promise<Staff | undefined> {
  return db.selectFrom("staff").selectAll().where("zendesk_user_id", "=", zendeskUserId).executeTakeFirst();
}

export async function listStaff(db: Executor): Promise<Staff[]> {
  return db.selectFrom("staff").selectAll().orderBy("active", "desc").orderBy("panel_role", "desc").orderBy("name").orderBy("id").execute();
}

/** Active admins, locked until the transaction ends so two admins cannot remove each other at once. */
export async function lockActiveAdmins(trx: Transaction<DB>): Promise<string[]> {
  const rows = await trx.selectFrom("staff").select("id").where("panel_role", "=", "admin").where("active", "=", true).orderBy("id").forUpdate().execute();
  return rows.map((r) => r.id);
}

export function toStaffMember(row: Staff): StaffMember {
  return {
    id: row.id,
    zendeskUserId: row.zendesk_user_id,
    email: row.email,
    name: row.name,
    panelRole: row.panel_role,
    active: row.active,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function toStaffActor(row: Staff): StaffActor {
  return { kind: "staff", staffId: row.id, zendeskUserId: row.zendesk_user_id, email: row.email, name: row.name, panelRole: row.panel_role };
}

/** What an audit entry records as a staff member's state before/after a change. */
export function staffSnapshot(row: Staff): { zendeskUserId: string; email: string | null; name: string | null; panelRole: Staff["panel_role"]; active: boolean } {
  return { zendeskUserId: row.zendesk_user_id, email: row.email, name: row.name, panelRole: row.panel_role, active: row.active };
}
