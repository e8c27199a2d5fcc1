import { z } from "zod";
import { TicketId } from "../audit.js";
import { TicketOverrideReason } from "./ticket.js";
import { ProductRole } from "../roles.js";
import { SettingDeclaration, SettingValue } from "../directory/contract.js";
import { StartImpersonationInput, StopImpersonationInput } from "./impersonation.js";

/**
 * Every support action is `POST /api/actions/<action name>` (names from shared/actions.ts) with this
 * envelope; destructive ones first call `POST /api/actions/<action name>/preview`, which returns the
 * billing effects and a confirmation token. The `Idempotency-Key` header makes retries safe.
 */
export const Reason = z.string().trim().min(3, "say why, in at least 3 characters").max(500, "at most 500 characters");

export const ActionTarget = z.object({
  type: z.enum(["user", "account"]),
  id: z.string().min(1).max(100),
});
export type ActionTarget = z.infer<typeof ActionTarget>;

/**
 * The customer's language as Zendesk has it for the ticket's requester (e.g. "de", "de-DE", "en-US"):
 * customer notices are written in it where there is a translation (English and German), else English.
 */
export const CustomerLocale = z
  .string()
  .trim()
  .max(35)
  .regex(/^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$/, "must be a locale such as de or en-US")
  .describe("The ticket requester's locale: customer notices are written in it where a translation exists (en, de), else in English");

export function actionRequest<T extends z.ZodType>(input: T) {
  return z.object({
    ticketId: TicketId,
    reason: Reason,
    target: ActionTarget,
    /** The target's version as the agent saw it; a newer version means someone else changed it (409). */
    expectedVersion: z.number().int().positive(),
    input,
    confirmationToken: z.string().min(10).max(4000).optional(),
    /** Tell the customer by email (the text is in the available actions' `notice`); mandatory notices cannot be turned off. */
    notifyCustomer: z.boolean().optional(),
    customerLocale: CustomerLocale.optional(),
    /** Operations+ only: go ahead although the ticket's requester is not the target or in its account (recorded, flagged). */
    ticketOverrideReason: TicketOverrideReason.optional(),
  });
}

export const NoInput = z.object({}).strict().default({});

/** Action-specific inputs, by action name. */
export const actionInputs = {
  "user.password_reset": NoInput,
  "user.lockout_clear": NoInput,
  "user.mfa_reset": z
    .object({
      /** MFA reset is the favourite social-engineering target: record how identity was verified. */
      identityVerification: z.enum(["verified_email_reply", "callback_known_phone", "admin_confirmed", "id_document", "other"]),
      verificationNote: z.string().trim().min(3).max(500),
    })
    .strict(),
  "user.sessions_revoke": NoInput,
  "user.block": NoInput,
  "user.unblock": NoInput,
  "user.activate": NoInput,
  "user.suspend": NoInput,
  "user.deactivate": NoInput,
  "user.delete": NoInput,
  "user.role_change": z.object({ role: ProductRole }).strict(),
  "user.promote_admin": z.object({ role: z.enum(["owner", "admin"]).default("admin") }).strict(),
  "user.elevate_temporarily": z.object({ role: ProductRole, hours: z.number().int().min(1).max(24 * 30) }).strict(),
  // Which settings exist and their types is the product's declaration (GET /api/directory/settings): the server checks against it.
  "user.settings_change": z
    .object({ settings: z.record(SettingDeclaration.shape.key, SettingValue).refine((s) => Object.keys(s).length > 0, "name at least one setting") })
    .strict(),
  "user.impersonation_protect": NoInput,
  "user.impersonation_unprotect": NoInput,
  "user.elevation_end": z.object({ elevationId: z.string().min(1).max(100) }).strict(),
  "account.activate": NoInput,
  "account.suspend": NoInput,
  "account.unsuspend": NoInput,
  "account.deactivate": NoInput,
  "account.delete": NoInput,
  "seats.change": z.object({ seats: z.number().int().min(0).max(100_000) }).strict(),
  "seats.expand_temporarily": z.object({ seats: z.number().int().min(1).max(10_000), days: z.number().int().min(1).max(90) }).strict(),
  "seats.expansion_end": z.object({ expansionId: z.string().min(1).max(100) }).strict(),
  "seats.reclaim": z
    .object({
      /** The users to deactivate, as confirmed from the preview; previewed without any, the preview lists candidates. */
      userIds: z.array(z.string().min(1).max(100)).max(500).default([]),
      /** Candidates are seat holders with no sign-in for at least this many days. */
      inactiveDays: z.number().int().min(1).max(3650).default(90),
    })
    .strict(),
  "billing.trial_extend": z.object({ days: z.number().int().min(1).max(365) }).strict(),
  // A blank description would reach the billing provider as "" (Stripe refuses it): leave it out for the standard one.
  "billing.credit_apply": z.object({ amountCents: z.number().int().min(1).max(10_000_000), description: z.string().trim().min(1, "leave it out for the standard description").max(200).optional() }).strict(),
  // Which plans exist is configuration (the plan catalog): the server checks the name against it.
  "billing.plan_change": z.object({ plan: z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, "expected a plan name from the plan catalog") }).strict(),
  "billing.subscription_cancel": z.object({ mode: z.enum(["at_period_end", "now"]).default("at_period_end") }).strict(),
  "impersonation.start": StartImpersonationInput,
  "impersonation.stop": StopImpersonationInput,
  "operation.resolve": z.object({ operationId: z.string().min(1).max(100), resolution: z.enum(["applied", "not_applied"]) }).strict(),
} as const;
export type SupportActionName = keyof typeof actionInputs;
export const supportActionNames = Object.keys(actionInputs) as SupportActionName[];

/**
 * A sentence as a code and its values, for clients that word it themselves (the sidebar, in the agent's
 * language): params ending in `Cents` are amounts in the effects' currency, in `Date` ISO timestamps
 * said as a date, in `Time` ISO timestamps said with their time, in `Role` a product role; `count` picks the plural. The English text beside it stays for API clients.
 */
export const EffectPhrase = z.object({ code: z.string(), params: z.record(z.string(), z.union([z.string(), z.number()])) });
export type EffectPhrase = z.infer<typeof EffectPhrase>;

/** The billing-aware preview of a destructive action. */
export const ActionEffects = z.object({
  summary: z.string(),
  summaryPhrase: EffectPhrase,
  activeSubscription: z.boolean(),
  mrrLostCents: z.number().int(),
  currency: z.string(),
  nextInvoice: z.object({ amountCents: z.number().int(), date: z.string().nullable() }).nullable(),
  openInvoices: z.number().int(),
  amountDueCents: z.number().int(),
  usersLosingAccess: z.array(z.object({ id: z.string(), email: z.string(), name: z.string() })),
  /** Seat holders beyond a reduced licence: they keep access, and the account is over its seats until some leave. */
  usersOverSeats: z.array(z.object({ id: z.string(), email: z.string(), name: z.string() })).optional(),
  retentionUntil: z.string().nullable(),
  warnings: z.array(z.string()),
  /** The warnings as phrases, in the same order. */
  warningPhrases: z.array(EffectPhrase),
});
export type ActionEffects = z.infer<typeof ActionEffects>;

export const ActionPreviewResponse = z.object({
  action: z.string(),
  target: ActionTarget,
  effects: ActionEffects,
  confirmationToken: z.string(),
  expiresAt: z.string(),
});
export type ActionPreviewResponse = z.infer<typeof ActionPreviewResponse>;

export const ActionResponse = z.object({
  action: z.string(),
  outcome: z.enum(["succeeded"]),
  auditEntryId: z.string(),
  operationId: z.string(),
  target: ActionTarget,
  before: z.unknown(),
  after: z.unknown(),
  /** Action-specific result, e.g. a password-change link that was mailed. */
  result: z.record(z.string(), z.unknown()).optional(),
  /** True when this is the stored result of an earlier request with the same Idempotency-Key. */
  replayed: z.boolean(),
});
export type ActionResponse = z.infer<typeof ActionResponse>;
