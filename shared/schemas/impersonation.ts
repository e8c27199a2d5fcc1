import { z } from "zod";
import { TicketId } from "../audit.js";

/**
 * The contract between Steward and a product that accepts impersonation: the handoff grant's claims
 * (a JWT Steward signs, RFC 8693 `act` naming the real agent) and the product API's bodies. The kit
 * (kit/) keeps its own copy of these shapes, since it never imports from this repository's shared/.
 */
export const impersonationModes = ["read_only", "full"] as const;
export const ImpersonationMode = z.enum(impersonationModes);
export type ImpersonationMode = z.infer<typeof ImpersonationMode>;

export const endReasons = ["agent", "admin_revoked", "idle_timeout", "absolute_timeout", "target_changed", "staff_deactivated"] as const;
export const EndReason = z.enum(endReasons);
export type EndReason = z.infer<typeof EndReason>;

/** A grant lives at most this long: long enough to open a tab, too short to be worth stealing. */
export const GRANT_MAX_SECONDS = 60;
export const GRANT_TYP = "steward-impersonation+jwt";

export const GrantActor = z.object({ sub: z.string().min(1), email: z.string().nullable(), name: z.string().nullable() }).strict();

export const GrantClaims = z.object({
  iss: z.string().min(1),
  /** The product user being viewed. */
  sub: z.string().min(1),
  /** The product id the grant is for. */
  aud: z.string().min(1),
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.string().min(16),
  /** The Steward session id. */
  sid: z.string().min(1),
  ticket: TicketId,
  mode: ImpersonationMode,
  act: GrantActor,
});
export type GrantClaims = z.infer<typeof GrantClaims>;

/** The bounds of a session's length (the role caps in shared/actions.ts lower the top). */
export const IMPERSONATION_MINUTES_MIN = 1;
export const IMPERSONATION_MINUTES_MAX = 24 * 60;

/** `impersonation.start` input (inside the usual action envelope: ticketId, reason ≥ 10 chars, target user). */
export const StartImpersonationInput = z
  .object({
    mode: ImpersonationMode.default("read_only"),
    /** How long the session may last at most; capped per panel role (shared/actions.ts). */
    minutes: z
      .number({ error: (issue) => (issue.code === "invalid_type" && issue.expected === "int" ? "expected a whole number of minutes" : issue.code === "invalid_type" ? "expected a number of minutes" : undefined) })
      .int("expected a whole number of minutes")
      // Words naming both bounds (as config's "expected 0-65535"), not zod's "Too small: expected number to be >=1".
      .min(IMPERSONATION_MINUTES_MIN, `expected ${IMPERSONATION_MINUTES_MIN} to ${IMPERSONATION_MINUTES_MAX} minutes`)
      .max(IMPERSONATION_MINUTES_MAX, `expected ${IMPERSONATION_MINUTES_MIN} to ${IMPERSONATION_MINUTES_MAX} minutes`)
      .default(30),
    /** Which registered product to open; optional when only one is registered. */
    productId: z.string().min(1).max(100).optional(),
  })
  .strict();
export type StartImpersonationInput = z.infer<typeof StartImpersonationInput>;

export const StopImpersonationInput = z.object({ sessionId: z.string().min(1).max(100) }).strict();
export type StopImpersonationInput = z.infer<typeof StopImpersonationInput>;

export const IMPERSONATION_REASON_MIN = 10;

/** `impersonation.start`'s result: the one-time grant and where to open it. */
export const StartImpersonationResult = z.object({
  sessionId: z.string(),
  grant: z.string(),
  grantExpiresAt: z.string(),
  /** The product's entry URL with the grant: open it in a new tab. */
  openUrl: z.string(),
  idleDeadline: z.string(),
  absoluteDeadline: z.string(),
});

/** What the product and the sidebar see of a session. */
export const SessionStatus = z.object({
  sid: z.string(),
  status: z.enum(["live", "ended"]),
  mode: ImpersonationMode,
  ticket: z.string(),
  reason: z.string(),
  user: z.object({ id: z.string(), name: z.string(), email: z.string() }),
  account: z.object({ id: z.string(), name: z.string() }),
  agent: z.object({ zendeskUserId: z.string(), name: z.string().nullable(), email: z.string().nullable() }),
  startedAt: z.string(),
  idleDeadline: z.string(),
  absoluteDeadline: z.string(),
  /** The nearer of the two deadlines: the banner counts down to it. */
  endsAt: z.string(),
  remainingSeconds: z.number().int(),
  idleTimeoutSeconds: z.number().int(),
  endedAt: z.string().nullable(),
  endReason: EndReason.nullable(),
  actionCount: z.number().int(),
  refusedCount: z.number().int(),
});
export type SessionStatus = z.infer<typeof SessionStatus>;

export const RedeemRequest = z.object({ grant: z.string().min(10).max(8000) }).strict();
export const RedeemResponse = SessionStatus;

export const SessionParams = z.object({ sid: z.string().regex(/^imp_[A-Za-z0-9-]{8,64}$/, "expected a session id (imp_…)") });

export const ImpersonationEvent = z
  .object({
    /** Unique per session, chosen by the product: a retried batch is not counted twice. */
    id: z.string().min(1).max(100),
    /** Any HTTP method (a token): a product may serve WebDAV, PURGE…, and what the agent sent is what is recorded. */
    method: z.string().trim().toUpperCase().pipe(z.string().regex(/^[A-Z0-9!#$%&'*+.^_`|~-]{1,20}$/, "expected an HTTP method")),
    /** The route pattern or action name, e.g. `POST /projects/:id` or `project.rename`. */
    route: z.string().trim().min(1).max(300),
    /** The object acted on, e.g. `project:42`. */
    object: z.string().trim().max(300).nullable().default(null),
    outcome: z.enum(["succeeded", "refused", "failed"]),
    status: z.number().int().min(100).max(599).nullable().default(null),
    /** Why the kit refused it (read-only, always-denied). */
    detail: z.string().trim().max(500).nullable().default(null),
    occurredAt: z.iso.datetime({ offset: true }),
  })
  .strict();
export type ImpersonationEvent = z.infer<typeof ImpersonationEvent>;

export const EVENT_BATCH_MAX = 100;
export const EventBatch = z.object({ events: z.array(ImpersonationEvent).min(1).max(EVENT_BATCH_MAX) }).strict();
export type EventBatch = z.infer<typeof EventBatch>;

export const EventBatchResult = z.object({
  accepted: z.number().int(),
  duplicates: z.number().int(),
  /** Events that arrived after the session ended: stored and audited with `afterEnd: true`. */
  afterEnd: z.number().int(),
  status: z.enum(["live", "ended"]),
});

export const NoticeSettings = z.object({ customerNotices: z.boolean() }).strict();
export type NoticeSettings = z.infer<typeof NoticeSettings>;
export const NoticeSettingsChange = NoticeSettings.extend({ reason: z.string().trim().min(3).max(500) }).strict();

/** The sidebar's view: the agent's live session and the ticket's past ones. */
export const TicketSessions = z.object({ live: SessionStatus.nullable(), sessions: z.array(SessionStatus) });
