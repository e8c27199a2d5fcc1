import { z } from "zod";

/**
 * The shapes the kit reads from Steward (the grant's claims and the product API's answers). They
 * mirror Steward's shared/schemas/impersonation.ts; the kit keeps its own copy because it is
 * installed in someone else's product and speaks to Steward only over HTTP.
 */
export const Mode = z.enum(["read_only", "full"]);
export type Mode = z.infer<typeof Mode>;

export const GrantClaims = z.object({
  iss: z.string(),
  sub: z.string().min(1),
  aud: z.union([z.string(), z.array(z.string())]),
  iat: z.number(),
  exp: z.number(),
  jti: z.string().min(16),
  sid: z.string().min(1),
  ticket: z.string().regex(/^[1-9][0-9]*$/),
  mode: Mode,
  act: z.object({ sub: z.string().min(1), email: z.string().nullable(), name: z.string().nullable() }),
});
export type GrantClaims = z.infer<typeof GrantClaims>;

export const SessionStatus = z.object({
  sid: z.string(),
  status: z.enum(["live", "ended"]),
  mode: Mode,
  ticket: z.string(),
  reason: z.string(),
  user: z.object({ id: z.string(), name: z.string(), email: z.string() }),
  account: z.object({ id: z.string(), name: z.string() }),
  agent: z.object({ zendeskUserId: z.string(), name: z.string().nullable(), email: z.string().nullable() }),
  startedAt: z.string(),
  idleDeadline: z.string(),
  absoluteDeadline: z.string(),
  endsAt: z.string(),
  remainingSeconds: z.number(),
  endedAt: z.string().nullable(),
  endReason: z.string().nullable(),
  actionCount: z.number(),
  refusedCount: z.number(),
});
export type SessionStatus = z.infer<typeof SessionStatus>;

/** What the agent did in the product, as reported to Steward. */
export interface KitEvent {
  id: string;
  method: string;
  route: string;
  object: string | null;
  outcome: "succeeded" | "refused" | "failed";
  status: number | null;
  detail: string | null;
  occurredAt: string;
}

/** Who is really acting, on `req.impersonation`. */
export interface Impersonation {
  sid: string;
  mode: Mode;
  ticket: string;
  userId: string;
  agent: { zendeskUserId: string; name: string | null; email: string | null };
  status: SessionStatus;
}
