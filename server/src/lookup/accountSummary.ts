import { sql, type Kysely, type Selectable } from "kysely";
import type { AccountSummary, UserSummary } from "../../../shared/schemas/context.js";
import type { AccountsTable, DB, User } from "../db/schema.js";

/** The product's view of a user and an account, as the sidebar shows them; read straight from our tables. */

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toUserSummary(user: User): UserSummary {
  return {
    id: user.id,
    accountId: user.account_id,
    email: user.email,
    name: user.name,
    role: user.role,
    status: user.status,
    idpId: user.idp_id,
    settings: user.directory_settings,
    impersonationProtected: user.impersonation_protected,
    createdAt: user.created_at.toISOString(),
    updatedAt: user.updated_at.toISOString(),
    version: user.version,
  };
}

/**
 * Seats are taken by active and invited users; temporary seats (unexpired, unreverted expansions)
 * raise the limit until a sweep reverts them. One round trip for the account and its counts.
 */
export async function loadAccountSummary(db: Kysely<DB>, accountId: string, now: Date): Promise<AccountSummary | null> {
  const row = await db
    .selectFrom("accounts as a")
    .selectAll("a")
    .select([
      sql<number>`(select count(*) from users u where u.account_id = a.id and u.status in ('active', 'invited'))`.as("seats_used"),
      sql<number>`(select count(*) from users u where u.account_id = a.id and u.status <> 'deleted')`.as("user_count"),
      sql<number>`(select count(*) from users u where u.account_id = a.id and u.status = 'active' and u.role in ('owner', 'admin'))`.as("active_admin_count"),
      sql<number>`(select coalesce(sum(e.seats), 0) from seat_expansions e where e.account_id = a.id and e.reverted_at is null and e.expires_at > ${now})`.as("temporary_seats"),
    ])
    .where("a.id", "=", accountId)
    .executeTakeFirst();
  if (!row) return null;
  return accountSummaryOf(row);
}

/** The accounts row plus its counts, as loadAccountSummary and the one-statement context (builtinContext.ts) read it. */
export type AccountSummaryRow = Selectable<AccountsTable> & { seats_used: number | string; user_count: number | string; active_admin_count: number | string; temporary_seats: number | string };

export function accountSummaryOf(row: AccountSummaryRow): AccountSummary {
  const seatsUsed = Number(row.seats_used);
  const temporarySeats = Number(row.temporary_seats);
  return {
    id: row.id,
    name: row.name,
    domain: row.domain,
    status: row.status,
    plan: row.plan,
    seatsLicensed: row.seats_licensed,
    seatsUsed,
    temporarySeats,
    overSeatLimit: seatsUsed > row.seats_licensed + temporarySeats,
    userCount: Number(row.user_count),
    activeAdminCount: Number(row.active_admin_count),
    billingCustomerId: row.billing_customer_id,
    retentionUntil: iso(row.retention_until),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    version: row.version,
  };
}
