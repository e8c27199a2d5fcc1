import type { Kysely, Transaction } from "kysely";
import type { BillingSummary, IdentitySummary } from "../../../shared/schemas/context.js";
import type { DB } from "../db/schema.js";

/**
 * The two provider families Steward talks to, one port each. Support actions and the requester
 * context call these; which adapter answers (built-in tables, Auth0, Stripe) is configuration.
 * Every method throws `ProviderError` (providerError.ts) and nothing else.
 */

/** What every write needs: a key that makes a retried support action take effect once. */
export interface ProviderCallContext {
  /** Same key on every retry of the same support action (Stripe idempotency key; the audit operation id fits). */
  idempotencyKey: string;
  /** Built-in adapters write through this so their change commits with the caller's audit entry. */
  executor?: Kysely<DB> | Transaction<DB>;
  /**
   * A retry of a call first made earlier with this key (the reconciler's): when that first attempt was about
   * to be sent. The provider may answer with that attempt's answer, replayed, which is no newer than this.
   */
  keyOpenedAt?: Date;
}

/** The product user whose sign-in state is read or changed. `idpId` is the identity provider's user id. */
export interface IdentityUserRef {
  id: string;
  idpId: string | null;
  email: string;
}

/**
 * How a password reset reaches the customer. `email`: the caller sends the product's reset email
 * (built-in). `ticket`: the provider issued a one-time reset link the caller must deliver (Auth0).
 */
export type PasswordResetDelivery = { method: "email" } | { method: "ticket"; ticketUrl: string; expiresAt: string };

export interface IdentityPort {
  readonly name: "builtin" | "auth0";
  /** Sign-in state: blocked, brute-force lock, failed attempts, MFA, sessions, recent auth events. */
  getIdentity(user: IdentityUserRef): Promise<IdentitySummary>;
  sendPasswordReset(user: IdentityUserRef, ctx: ProviderCallContext): Promise<PasswordResetDelivery>;
  /** Lifts a brute-force lockout (not an admin block; see setBlocked). */
  clearLockout(user: IdentityUserRef, ctx: ProviderCallContext): Promise<void>;
  /** Removes every second factor so the user enrols again at next sign-in. */
  resetMfa(user: IdentityUserRef, ctx: ProviderCallContext): Promise<void>;
  /** Signs the user out everywhere; `revoked` is the number of sessions that were active. */
  revokeSessions(user: IdentityUserRef, ctx: ProviderCallContext): Promise<{ revoked: number }>;
  /** Admin block: the user cannot sign in until unblocked. */
  setBlocked(user: IdentityUserRef, blocked: boolean, ctx: ProviderCallContext): Promise<void>;
  /**
   * Whether the user is admin-blocked now, in one read (the reconciler's check of a block whose answer
   * was lost). Absent on adapters whose writes commit with Steward's own.
   */
  isBlocked?(user: IdentityUserRef): Promise<boolean>;
}

/** The product account whose billing is read or changed. `billingCustomerId` is the provider's customer id. */
export interface BillingAccountRef {
  id: string;
  billingCustomerId: string | null;
  /**
   * The customer's current subscription id as kept when last read (providers/subscriptionHints.ts), when the
   * caller has read it already: the requester lookup reads it in its own statement. Undefined: not read,
   * the adapter reads it itself. Stripe uses it to ask the invoice preview beside the subscription list.
   */
  subscriptionHint?: string | null;
}

/**
 * `at_period_end`: the subscription renews no more and ends when the paid period does.
 * `now`: it ends at once; the unused part of the paid period is credited pro rata to the customer's
 * balance (not refunded to the card) and a final invoice settling that credit and any pending
 * charges is issued at once (Stripe: `prorate` and `invoice_now`, both true). Previews say so.
 */
export type CancelMode = "at_period_end" | "now";

export interface BillingPort {
  readonly name: "builtin" | "stripe";
  /** null when the account has no billing customer at all; ProviderError not_found when its customer id is unknown. */
  getBilling(account: BillingAccountRef): Promise<BillingSummary | null>;
  /** Sets the licensed quantity on the current subscription (prorated). */
  changeSeats(account: BillingAccountRef, quantity: number, ctx: ProviderCallContext): Promise<BillingSummary>;
  /** Moves the trial end of a trialing subscription. */
  extendTrial(account: BillingAccountRef, trialEnd: Date, ctx: ProviderCallContext): Promise<BillingSummary>;
  /** Credits the customer balance (a positive amount reduces what they owe); returns the new balance (negative = credit). */
  applyCredit(account: BillingAccountRef, amountCents: number, description: string, ctx: ProviderCallContext): Promise<{ balanceCents: number }>;
  /**
   * Re-reads whether the credit made with this idempotency key exists (the reconciler's check when a
   * retry with the key cannot settle it). Absent on adapters whose writes commit with Steward's own.
   */
  findCredit?(account: BillingAccountRef, ctx: ProviderCallContext): Promise<{ found: true; balanceCents: number } | { found: false }>;
  /** Switches the current subscription to another plan, keeping its interval and seats. */
  changePlan(account: BillingAccountRef, plan: string, ctx: ProviderCallContext): Promise<BillingSummary>;
  cancelSubscription(account: BillingAccountRef, mode: CancelMode, ctx: ProviderCallContext): Promise<BillingSummary>;
  /** Undoes a scheduled end (at period end, or at a set date) that has not taken effect yet. */
  resumeSubscription(account: BillingAccountRef, ctx: ProviderCallContext): Promise<BillingSummary>;
}
