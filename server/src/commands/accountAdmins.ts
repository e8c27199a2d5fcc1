import { sql } from "kysely";
import type { ProductRole } from "../../../shared/roles.js";
import type { User } from "../db/schema.js";
import { Problem } from "../http/problem.js";
import type { Executor } from "./targets.js";

/**
 * An account must keep at least one active owner or admin: someone at the customer who can manage
 * it. Every command that demotes, deactivates or removes users checks this rule here.
 */
export const ADMIN_ROLES: ReadonlySet<ProductRole> = new Set(["owner", "admin"]);

export function isActiveAdmin(user: Pick<User, "role" | "status">): boolean {
  return user.status === "active" && ADMIN_ROLES.has(user.role);
}

/** The account's active owners and admins, optionally leaving some users out. */
export async function activeAdmins(db: Executor, accountId: string, except: readonly string[] = []): Promise<Pick<User, "id" | "email" | "name" | "role">[]> {
  let query = db.selectFrom("users").select(["id", "email", "name", "role"]).where("account_id", "=", accountId).where("status", "=", "active").where("role", "in", ["owner", "admin"]);
  if (except.length) query = query.where("id", "not in", except);
  return query.orderBy("id").execute();
}

/**
 * 409 `last_admin` when the users about to lose their admin rights (demoted, deactivated…) are the
 * only active owners/admins left. Accounts that already have none are not made any worse, so pass.
 */
export async function assertKeepsAnAdmin(db: Executor, accountId: string, losing: readonly Pick<User, "id" | "role" | "status">[]): Promise<void> {
  const leaving = losing.filter(isActiveAdmin).map((u) => u.id);
  if (!leaving.length) return;
  const remaining = await activeAdmins(db, accountId, leaving);
  if (remaining.length) return;
  throw Problem.conflict("last_admin", `This would leave account ${accountId} without an active owner or admin; promote someone else first`, { accountId, userIds: leaving });
}

/** Serialises the admin checks of one account, so two concurrent demotions cannot each leave "the other" admin. */
export async function lockAccountAdmins(trx: Executor, accountId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`steward:admins:${accountId}`}))`.execute(trx);
}
