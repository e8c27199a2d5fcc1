import { z } from "zod";

/** Customer mail as the demo outbox shows it (demo mode only: `GET /api/demo/outbox`). */
export const mailStatuses = ["queued", "sent", "held", "failed"] as const;
export const MailStatus = z.enum(mailStatuses);
export type MailStatus = z.infer<typeof MailStatus>;

export const OutboxMail = z.object({
  id: z.string(),
  kind: z.string(),
  to: z.string(),
  subject: z.string(),
  bodyText: z.string(),
  status: MailStatus,
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  accountId: z.string().nullable(),
  userId: z.string().nullable(),
  ticketId: z.string().nullable(),
  createdAt: z.string(),
  sentAt: z.string().nullable(),
});
export type OutboxMail = z.infer<typeof OutboxMail>;

export const OutboxResponse = z.object({ mail: z.array(OutboxMail) });
export type OutboxResponse = z.infer<typeof OutboxResponse>;
