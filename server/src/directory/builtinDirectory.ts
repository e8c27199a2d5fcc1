import type { Kysely } from "kysely";
import type { AccountWithUsers, AccountWrite, DirectoryAccount, DirectorySearchResponse, DirectoryUser, SettingDeclaration, SettingsDeclaration, UserLookupResponse, UserWrite } from "../../../shared/directory/contract.js";
import { settingsErrors } from "../../../shared/directory/settings.js";
import type { DB } from "../db/schema.js";
import { builtinCall, builtinNotFound, builtinRejected } from "../providers/builtin/builtinCall.js";
import { ProviderError } from "../providers/providerError.js";
import { emailKey } from "../lookup/resolveRequester.js";
import { searchDirectory } from "../lookup/search.js";
import type { DirectoryCall, DirectoryPort, UserLookup } from "./port.js";
import { accountFromRow, userFromRow } from "./rows.js";

/**
 * The user settings support may change when Steward's tables are the directory (kept in
 * users.directory_settings): the same ones the demo product declares, so the demo runs alike either way.
 */
export const BUILTIN_SETTINGS: readonly SettingDeclaration[] = [
  { key: "language", label: "Language", type: "enum", values: ["en", "de", "fr", "es"] },
  { key: "weekly_digest", label: "Weekly digest email", type: "boolean" },
  { key: "display_name", label: "Display name", type: "string", maxLength: 80 },
];

/** At most this many users answer one lookup (one email in many workspaces is a data problem). */
const LOOKUP_LIMIT = 50;

/**
 * DIRECTORY_PROVIDER=builtin (the zero-setup default): Steward's own tables are the directory. A write
 * here changes nothing by itself: the command's `apply` writes these same tables in the transaction
 * `call.executor` belongs to, so the write and its audit entry commit together. It checks the version
 * as the product would and answers the object as it will be once that transaction commits.
 */
export class BuiltinDirectory implements DirectoryPort {
  readonly name = "builtin" as const;

  constructor(private readonly db: Kysely<DB>) {}

  lookupUsers(query: UserLookup): Promise<UserLookupResponse> {
    return builtinCall("directory.lookup", async () => {
      const asked = query.email;
      let q = this.db.selectFrom("users").selectAll().where("status", "<>", "deleted");
      // Compared as the requester lookup compares (emailKey): steward_fold (search's index) finds every
      // spelling of the address, composed or decomposed, any case, and a few accent variants; emailKey decides.
      if (asked) q = q.where((eb) => eb(eb.fn("steward_fold", ["email"]), "in", [eb.fn<string>("steward_fold", [eb.val(emailKey(asked))]), eb.fn<string>("steward_fold", [eb.val(asked)])]));
      // Steward's user ids are the product's, so an external id names the same row.
      if (query.id ?? query.externalId) q = q.where("id", "=", (query.id ?? query.externalId)!);
      // Room for the accent variants the filter below drops.
      const rows = await q.orderBy("id").limit(asked ? LOOKUP_LIMIT * 4 : LOOKUP_LIMIT).execute();
      const users = (asked ? rows.filter((u) => emailKey(u.email) === emailKey(asked)) : rows).slice(0, LOOKUP_LIMIT);
      const accountIds = [...new Set(users.map((u) => u.account_id))];
      const accounts = accountIds.length ? await this.db.selectFrom("accounts").selectAll().where("id", "in", accountIds).execute() : [];
      return { accounts: accounts.map(accountFromRow), users: users.map(userFromRow) };
    });
  }

  search(q: string, limit: number): Promise<DirectorySearchResponse> {
    return builtinCall("directory.search", async () => {
      const { hits } = await searchDirectory(this.db, { q, limit });
      const ids = (kind: "user" | "account") => hits.filter((h) => h.kind === kind).map((h) => h.id);
      const [users, accounts] = await Promise.all([
        ids("user").length ? this.db.selectFrom("users").selectAll().where("id", "in", ids("user")).execute() : [],
        ids("account").length ? this.db.selectFrom("accounts").selectAll().where("id", "in", ids("account")).execute() : [],
      ]);
      return { accounts: accounts.map(accountFromRow), users: users.map(userFromRow) };
    });
  }

  getUser(id: string): Promise<DirectoryUser> {
    return builtinCall("directory.user", async () => userFromRow(await this.userRow(this.db, id)));
  }

  getAccount(id: string): Promise<AccountWithUsers> {
    return builtinCall("directory.account", async () => {
      const account = await this.db.selectFrom("accounts").selectAll().where("id", "=", id).executeTakeFirst();
      if (!account) throw builtinNotFound("directory.account", `no account ${id}`);
      const users = await this.db.selectFrom("users").selectAll().where("account_id", "=", id).where("status", "<>", "deleted").orderBy("id").execute();
      return { account: accountFromRow(account), users: users.map(userFromRow) };
    });
  }

  updateAccount(id: string, write: AccountWrite, call: DirectoryCall): Promise<DirectoryAccount> {
    return builtinCall("directory.account_update", async () => {
      const row = await (call.executor ?? this.db).selectFrom("accounts").selectAll().where("id", "=", id).executeTakeFirst();
      if (!row) throw builtinNotFound("directory.account_update", `no account ${id}`);
      checkVersion("directory.account_update", row.version, write.expectedVersion);
      const { status, seatsLicensed, plan } = write.changes;
      return { ...accountFromRow(row), ...(status ? { status } : {}), ...(seatsLicensed !== undefined ? { seatsLicensed } : {}), ...(plan ? { plan } : {}), version: row.version + 1 };
    });
  }

  updateUser(id: string, write: UserWrite, call: DirectoryCall): Promise<DirectoryUser> {
    return builtinCall("directory.user_update", async () => {
      const row = await this.userRow(call.executor ?? this.db, id);
      checkVersion("directory.user_update", row.version, write.expectedVersion);
      const { role, status, staff, settings } = write.changes;
      if (staff !== undefined) throw builtinRejected("directory.user_update", "the built-in directory keeps no staff flag");
      const undeclared = settings ? settingsErrors(BUILTIN_SETTINGS, settings, "changes.settings") : [];
      if (undeclared.length > 0) throw builtinRejected("directory.user_update", undeclared.map((e) => `${e.field}: ${e.reason}`).join("; "));
      const flag = write.changes.protected;
      const user = userFromRow(row);
      return {
        ...user,
        ...(role ? { role } : {}),
        ...(status ? { status } : {}),
        ...(flag !== undefined ? { protected: flag } : {}),
        ...(settings ? { settings: { ...user.settings, ...settings } } : {}),
        version: row.version + 1,
      };
    });
  }

  settings(): Promise<SettingsDeclaration> {
    return Promise.resolve({ settings: [...BUILTIN_SETTINGS] });
  }

  private async userRow(db: Kysely<DB>, id: string) {
    const row = await db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row || row.status === "deleted") throw builtinNotFound("directory.user", `no user ${id}`);
    return row;
  }
}

/** perform runs before the runner bumps the version, so the row still has the version the command was decided on. */
function checkVersion(operation: string, current: number, expected: number): void {
  if (current !== expected) throw new ProviderError({ provider: "builtin", code: "stale", operation, status: 409, message: `version ${expected} expected, now ${current}` });
}
