import type { AuditKeys } from "./audit/sealKey.js";
import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import type { Database } from "./db/database.js";
import type { StaffCache } from "./auth/staffCache.js";
import type { RateLimits } from "./http/rateLimit.js";
import type { Logger } from "./logger.js";
import type { DirectoryPort } from "./directory/port.js";
import type { BillingPort, IdentityPort } from "./providers/ports.js";

/** Everything the app needs from outside, built once in main.ts (or by a test) and passed down. */
export interface AppDeps {
  config: Config;
  database: Database;
  logger: Logger;
  clock: Clock;
  /** Sign-in state and its support actions: built-in tables or Auth0 (IDENTITY_PROVIDER). */
  identity: IdentityPort;
  /** Subscription, invoices and billing actions: built-in tables or Stripe (BILLING_PROVIDER). */
  billing: BillingPort;
  /** Accounts and users (status, roles, seats, flags): Steward's tables or the product's API (DIRECTORY_PROVIDER). */
  directory: DirectoryPort;
  /** The audit key (MACs, seals, checkpoint signatures); also installed for appendAudit at start-up. */
  auditKeys: AuditKeys;
  /** Per-agent and per-IP request limits; createApp builds them from the config when absent. */
  rateLimits?: RateLimits;
  /** Staff rows for the lookup routes, checked by their audit entries (auth/staffCache.ts); createApp builds it when absent. */
  staffCache?: StaffCache;
}
