import type { Kysely } from "kysely";
import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import type { DB } from "../db/schema.js";
import type { Logger } from "../logger.js";
import { createAuth0Client } from "./auth0/auth0Client.js";
import { classifyAuth0Error } from "./auth0/auth0Errors.js";
import { Auth0Identity } from "./auth0/auth0Identity.js";
import { BuiltinBilling } from "./builtin/builtinBilling.js";
import { BuiltinIdentity } from "./builtin/builtinIdentity.js";
import { ProviderCaller, type CallPolicy } from "./providerCall.js";
import type { BillingPort, IdentityPort } from "./ports.js";
import { createStripeClient } from "./stripe/stripeClient.js";
import { classifyStripeError } from "./stripe/stripeErrors.js";
import { StripeBilling } from "./stripe/stripeBilling.js";
import { databaseSubscriptionHints } from "./subscriptionHints.js";

export type { BillingPort, IdentityPort } from "./ports.js";

export interface Providers {
  identity: IdentityPort;
  billing: BillingPort;
}

export interface ProviderDeps {
  config: Config;
  db: Kysely<DB>;
  clock: Clock;
  logger?: Logger;
  /** Tests shorten backoff; production uses the defaults. */
  policy?: Partial<CallPolicy>;
}

export function callPolicyFrom(config: Config, overrides: Partial<CallPolicy> = {}): CallPolicy {
  return { timeoutMs: config.PROVIDER_TIMEOUT_MS, maxRetries: config.PROVIDER_MAX_RETRIES, ...overrides };
}

/** The identity adapter IDENTITY_PROVIDER names (config.ts has already checked its settings). */
export function createIdentityPort(deps: ProviderDeps): IdentityPort {
  return deps.config.IDENTITY_PROVIDER === "builtin" ? new BuiltinIdentity(deps.db, deps.clock) : createAuth0Identity(deps);
}

/** The billing adapter BILLING_PROVIDER names. */
export function createBillingPort(deps: ProviderDeps): BillingPort {
  return deps.config.BILLING_PROVIDER === "builtin" ? new BuiltinBilling(deps.db, deps.clock) : createStripeBilling(deps);
}

export function createAuth0Identity({ config, clock, logger, policy }: Omit<ProviderDeps, "db">): Auth0Identity {
  const callPolicy = callPolicyFrom(config, policy);
  const client = createAuth0Client({
    domain: required(config.AUTH0_DOMAIN, "AUTH0_DOMAIN"),
    clientId: required(config.AUTH0_CLIENT_ID, "AUTH0_CLIENT_ID"),
    clientSecret: required(config.AUTH0_CLIENT_SECRET, "AUTH0_CLIENT_SECRET"),
    baseUrl: config.AUTH0_BASE_URL,
    timeoutMs: callPolicy.timeoutMs,
  });
  return new Auth0Identity(client, new ProviderCaller("auth0", callPolicy, classifyAuth0Error, { logger }), { connection: config.AUTH0_CONNECTION, clock });
}

/** With `db`, subscription hints are kept in the database for every process; without, in this one's memory. */
export function createStripeBilling({ config, logger, policy, db, clock }: Omit<ProviderDeps, "db" | "clock"> & Partial<Pick<ProviderDeps, "db" | "clock">>): StripeBilling {
  const callPolicy = callPolicyFrom(config, policy);
  const stripe = createStripeClient({ secretKey: required(config.STRIPE_SECRET_KEY, "STRIPE_SECRET_KEY"), baseUrl: config.STRIPE_BASE_URL, timeoutMs: callPolicy.timeoutMs });
  const hints = db && clock ? databaseSubscriptionHints(db, clock) : undefined;
  return new StripeBilling(stripe, new ProviderCaller("stripe", callPolicy, classifyStripeError, { logger }), { hints, logger });
}

export function createProviders(deps: ProviderDeps): Providers {
  return { identity: createIdentityPort(deps), billing: createBillingPort(deps) };
}

function required(value: string | undefined, variable: string): string {
  if (!value) throw new Error(`${variable} is required for this provider`);
  return value;
}
