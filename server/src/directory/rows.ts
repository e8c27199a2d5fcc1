import type { Selectable } from "kysely";
import type { DirectoryAccount, DirectoryUser } from "../../../shared/directory/contract.js";
import type { AccountsTable, UsersTable } from "../db/schema.js";

/** Steward's rows as the contract's objects: what the built-in directory answers (and the cache holds). */
export function accountFromRow(row: Selectable<AccountsTable>): DirectoryAccount {
  return {
    id: row.id,
    name: row.name,
    domain: row.domain,
    status: row.status,
    plan: row.plan,
    seatsLicensed: row.seats_licensed,
    billingCustomerId: row.billing_customer_id,
    version: row.version,
  };
}

export function userFromRow(row: Selectable<UsersTable>): DirectoryUser {
  // The built-in directory keeps no product staff flag; its user settings are directory_settings (BUILTIN_SETTINGS).
  return {
    id: row.id,
    accountId: row.account_id,
    email: row.email,
    name: row.name,
    role: row.role,
    status: row.status,
    idpId: row.idp_id,
    staff: false,
    protected: row.impersonation_protected,
    settings: row.directory_settings,
    version: row.version,
  };
}
