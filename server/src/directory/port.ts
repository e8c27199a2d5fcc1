import type { AccountWithUsers, AccountWrite, DirectoryAccount, DirectorySearchResponse, DirectoryUser, SettingsDeclaration, UserLookupResponse, UserWrite } from "../../../shared/directory/contract.js";
import type { Actor } from "../actor.js";
import type { ProviderCallContext } from "../providers/ports.js";

/**
 * What the product owns: accounts and their users (status, roles, seats, protected/staff flags, the
 * settings support may change). `builtin`: Steward's own tables are the directory. `http`: the
 * product is, through the published contract (shared/directory/contract.ts); Steward's tables are
 * then a read cache the adapter fills on every read (mirror.ts) and never decide a write.
 * Every method throws `ProviderError` (provider "product") and nothing else.
 */
/** Who reads, and from which ticket: carried in the request token, so the product can audit support's reads too. */
export interface DirectoryReader {
  actor: Actor | null;
  ticketId: string | null;
}

export interface DirectoryCall extends ProviderCallContext {
  /** Who acts and from which ticket: carried in the request token, so the product can audit it too. */
  actor: Actor;
  ticketId: string | null;
}

export interface UserLookup {
  email?: string;
  id?: string;
  externalId?: string;
}

export interface DirectoryPort {
  readonly name: "builtin" | "http";
  /** Exact lookups (the ticket requester): by email, id or external id. */
  lookupUsers(query: UserLookup, reader?: DirectoryReader): Promise<UserLookupResponse>;
  /** Candidates for the search box; Steward ranks them (lookup/search.ts). */
  search(q: string, limit: number, reader?: DirectoryReader): Promise<DirectorySearchResponse>;
  getUser(id: string, reader?: DirectoryReader): Promise<DirectoryUser>;
  getAccount(id: string, reader?: DirectoryReader): Promise<AccountWithUsers>;
  /** The product applies the change unless the account moved past `expectedVersion` (ProviderError `stale`). */
  updateAccount(id: string, write: AccountWrite, call: DirectoryCall): Promise<DirectoryAccount>;
  updateUser(id: string, write: UserWrite, call: DirectoryCall): Promise<DirectoryUser>;
  /** The user settings support may change, as the product declares them. */
  settings(): Promise<SettingsDeclaration>;
}
