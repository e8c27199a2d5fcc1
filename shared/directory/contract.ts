import { z } from "zod";
import { AccountStatus, ProductRole, UserStatus } from "../roles.js";

/**
 * The directory contract: what a product implements so Steward works on the product's own accounts
 * and users (DIRECTORY_PROVIDER=http). Every request carries a short-lived JWT from Steward (see
 * DirectoryClaims); every object carries `version`, and a write names the version it was decided on,
 * so the product — never Steward's cache — refuses a stale write (409 `stale_version`). Writes are
 * idempotent by the token's `idem` claim: the same key twice on the same object is applied once and the
 * repeat answered with the first answer, whatever its body (a retry after a lost answer may carry a newer
 * expectedVersion that Steward read meanwhile, when the first attempt had in fact been applied).
 * The OpenAPI document (docs/directory-contract.json) is generated from these schemas.
 */
export const DIRECTORY_CONTRACT_VERSION = "1.0.0";
export const DIRECTORY_BASE_PATH = "/steward/directory/v1";
export const DIRECTORY_TOKEN_TYP = "steward-directory+jwt";
/** A directory token lives at most this long. */
export const DIRECTORY_TOKEN_MAX_SECONDS = 60;

const Id = z.string().min(1).max(200);
const Version = z.number().int().min(0).meta({ description: "Increases on every change to the object; sent back as expectedVersion on writes" });

export const DirectoryAccount = z
  .object({
    id: Id,
    name: z.string().min(1).max(200),
    domain: z.string().max(253).nullable(),
    status: AccountStatus,
    plan: z.string().min(1).max(100),
    seatsLicensed: z.number().int().min(0),
    /** Seats support added for a while on top of seatsLicensed (seats.expand_temporarily); Steward sets them back as each expansion ends. Absent: not reported (the built-in directory keeps them in seat_expansions). */
    seatsTemporary: z.number().int().min(0).optional(),
    /** The account's customer id at the billing provider (Stripe), when it has one. */
    billingCustomerId: z.string().max(200).nullable(),
    version: Version,
  });
export type DirectoryAccount = z.infer<typeof DirectoryAccount>;

export const SettingValue = z.union([z.string().max(500), z.number(), z.boolean()]);
export type SettingValue = z.infer<typeof SettingValue>;

export const DirectoryUser = z
  .object({
    id: Id,
    accountId: Id,
    email: z.string().min(3).max(320),
    name: z.string().min(1).max(200),
    role: ProductRole,
    status: UserStatus,
    /** The user's id at the identity provider (Auth0), when it has one. */
    idpId: z.string().max(200).nullable(),
    /** Staff of the product's own company (never impersonated, shown to agents). */
    staff: z.boolean(),
    /** The product says this user must never be impersonated. */
    protected: z.boolean(),
    /** The user's support-editable settings (see SettingsDeclaration), by key. */
    settings: z.record(z.string(), SettingValue),
    version: Version,
  });
export type DirectoryUser = z.infer<typeof DirectoryUser>;

export const AccountWithUsers = z.object({ account: DirectoryAccount, users: z.array(DirectoryUser) });
export type AccountWithUsers = z.infer<typeof AccountWithUsers>;

/** GET /users?email=… (or externalId, or id): exact lookups, as the requester of a ticket is resolved. */
export const UserLookupQuery = z
  .object({ email: z.string().max(320).optional(), id: Id.optional(), externalId: Id.optional() })
  .refine((q) => Boolean(q.email ?? q.id ?? q.externalId), { message: "name email, id or externalId" });
/** Lookups and search answer the account of every user they return, in `accounts`. */
export const UserLookupResponse = z.object({ accounts: z.array(DirectoryAccount), users: z.array(DirectoryUser) });
export type UserLookupResponse = z.infer<typeof UserLookupResponse>;

/** GET /search?q=…: candidates by email, id, external id, domain or name; Steward ranks them itself. */
export const DirectorySearchQuery = z.object({ q: z.string().min(1).max(200), limit: z.coerce.number().int().min(1).max(100).default(20) });
export const DirectorySearchResponse = z.object({ accounts: z.array(DirectoryAccount), users: z.array(DirectoryUser) });
export type DirectorySearchResponse = z.infer<typeof DirectorySearchResponse>;

export const AccountChanges = z
  .object({
    status: AccountStatus.optional(),
    seatsLicensed: z.number().int().min(0).max(100_000).optional(),
    /** The temporary seats now open on top of the licence (all of them, not a difference). */
    seatsTemporary: z.number().int().min(0).max(100_000).optional(),
    /** The product's copy of the plan, after Steward changed the subscription's plan at the billing provider. */
    plan: z.string().min(1).max(100).optional(),
  })
  .strict()
  .refine((c) => Object.keys(c).length > 0, { message: "name at least one change" });
export type AccountChanges = z.infer<typeof AccountChanges>;

export const UserChanges = z
  .object({
    role: ProductRole.optional(),
    status: UserStatus.optional(),
    staff: z.boolean().optional(),
    protected: z.boolean().optional(),
    settings: z.record(z.string(), SettingValue).optional(),
  })
  .strict()
  .refine((c) => Object.keys(c).length > 0, { message: "name at least one change" });
export type UserChanges = z.infer<typeof UserChanges>;

/** PATCH /accounts/{id} and /users/{id}: the change and the version Steward decided it on. */
export const AccountWrite = z.object({ expectedVersion: Version, changes: AccountChanges }).strict();
export type AccountWrite = z.infer<typeof AccountWrite>;
export const UserWrite = z.object({ expectedVersion: Version, changes: UserChanges }).strict();
export type UserWrite = z.infer<typeof UserWrite>;

/** The user settings support may change, as the product declares them (the sidebar renders a form from this). */
export const SettingDeclaration = z
  .object({
    key: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/),
    label: z.string().min(1).max(100),
    type: z.enum(["boolean", "string", "number", "enum"]),
    /** For `enum`: the allowed values. */
    values: z.array(z.string().max(100)).optional(),
    /** For `string`: the longest value accepted. */
    maxLength: z.number().int().positive().optional(),
  });
export type SettingDeclaration = z.infer<typeof SettingDeclaration>;
export const SettingsDeclaration = z.object({ settings: z.array(SettingDeclaration) });
export type SettingsDeclaration = z.infer<typeof SettingsDeclaration>;

/** Every error is RFC 9457 problem+json with a `code`; a stale write also says the current version. */
export const directoryErrorCodes = ["unauthorized", "not_found", "invalid_request", "stale_version", "invalid_transition"] as const;
export const DirectoryProblem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    code: z.string().min(1),
    detail: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), reason: z.string() })).optional(),
    currentVersion: z.number().int().optional(),
  })
  .loose();
export type DirectoryProblem = z.infer<typeof DirectoryProblem>;

/** The claims of the JWT in `Authorization: Bearer` on every request (ES256, a key from Steward's JWKS). */
export const DirectoryClaims = z.object({
  iss: z.string(),
  aud: z.union([z.string(), z.array(z.string())]),
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.string(),
  /** The acting agent (a staff id, or `system:<component>` for Steward's own sweeps). */
  sub: z.string(),
  agent: z.object({ id: z.string(), email: z.string().nullable() }),
  /** The Zendesk ticket the agent works from, when there is one. */
  ticketId: z.string().nullable(),
  /** Writes only: the same key on every retry of one support action; the product applies it once. */
  idem: z.string().optional(),
});
export type DirectoryClaims = z.infer<typeof DirectoryClaims>;

/** The named schemas of the OpenAPI document (components/schemas). */
export const directorySchemas = { DirectoryAccount, DirectoryUser, AccountWithUsers, AccountWrite, UserWrite, SettingDeclaration, SettingsDeclaration, DirectoryProblem } as const;

/** Every operation of the contract, for the OpenAPI document and the conformance checker. */
export const directoryOperations = {
  getSettings: { method: "get", path: "/settings", summary: "The user settings support may change", response: SettingsDeclaration },
  lookupUsers: { method: "get", path: "/users", summary: "Users by exact email, id or external id", query: UserLookupQuery, response: UserLookupResponse },
  search: { method: "get", path: "/search", summary: "Accounts and users matching a search box entry", query: DirectorySearchQuery, response: DirectorySearchResponse },
  getUser: { method: "get", path: "/users/{id}", summary: "One user", response: DirectoryUser },
  getAccount: { method: "get", path: "/accounts/{id}", summary: "An account with its users", response: AccountWithUsers },
  updateAccount: { method: "patch", path: "/accounts/{id}", summary: "Change an account's status, plan, seats or temporary seats (idempotent by the token's idem claim)", body: AccountWrite, response: DirectoryAccount },
  updateUser: { method: "patch", path: "/users/{id}", summary: "Change a user's role, status, flags or settings (idempotent by the token's idem claim)", body: UserWrite, response: DirectoryUser },
} as const;
