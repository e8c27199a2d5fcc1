import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { StaffActor } from "../actor.js";
import type { DB } from "../db/schema.js";
import { Problem } from "../http/problem.js";

/** An unused link stops working after this: long enough for the browser to follow it, too short to pass around. */
export const EXPORT_LINK_TTL_MS = 60_000;
/** Links (used or not) are kept this long for the console's progress, then removed when a new one is made. */
const EXPORT_LINK_KEEP_MS = 24 * 3_600_000;
/** A streaming export writes its progress at most this often (a 1M-row export: a few hundred updates, not thousands). */
export const EXPORT_PROGRESS_EVERY_MS = 1_000;

const hashOf = (token: string) => createHash("sha256").update(token).digest("hex");

export interface IssuedExportLink {
  id: string;
  /** The secret part of the link: 256 random bits, shown once; only its hash is stored. */
  token: string;
  expiresAt: Date;
}

/** Makes a link for one export of `query` by `actor`; the filters were validated by the caller. */
export async function issueExportLink(db: Kysely<DB>, input: { actor: StaffActor; ticketId: string | null; query: unknown; now: Date }): Promise<IssuedExportLink> {
  const token = randomBytes(32).toString("base64url");
  const id = randomUUID();
  const expiresAt = new Date(input.now.getTime() + EXPORT_LINK_TTL_MS);
  await db.deleteFrom("console_export_links").where("expires_at", "<", new Date(input.now.getTime() - EXPORT_LINK_KEEP_MS)).execute();
  await db
    .insertInto("console_export_links")
    .values({ id, token_hash: hashOf(token), staff_id: input.actor.staffId, zendesk_user_id: input.actor.zendeskUserId, ticket_id: input.ticketId, query: JSON.stringify(input.query), created_at: input.now, expires_at: expiresAt })
    .execute();
  return { id, token, expiresAt };
}

export interface RedeemedExportLink {
  id: string;
  staffId: string;
  zendeskUserId: string;
  ticketId: string | null;
  query: unknown;
}

const gone = (code: string, detail: string) => new Problem(410, code, "Gone", detail);

/**
 * Uses a link up: one UPDATE marks it used, so two requests racing for it cannot both get the file.
 * A used, expired or unknown link is refused with a problem saying which.
 */
export async function redeemExportLink(db: Kysely<DB>, token: string, now: Date): Promise<RedeemedExportLink> {
  const tokenHash = hashOf(token);
  const row = await db
    .updateTable("console_export_links")
    .set({ used_at: now })
    .where("token_hash", "=", tokenHash)
    .where("used_at", "is", null)
    .where("expires_at", ">", now)
    .returning(["id", "staff_id", "zendesk_user_id", "ticket_id", "query"])
    .executeTakeFirst();
  if (row) return { id: row.id, staffId: row.staff_id, zendeskUserId: row.zendesk_user_id, ticketId: row.ticket_id, query: row.query };
  const known = await db.selectFrom("console_export_links").select(["used_at"]).where("token_hash", "=", tokenHash).executeTakeFirst();
  if (!known) throw new Problem(404, "export_link_unknown", "Not found", "This export link is not one Steward made. Start the export again from the console.");
  if (known.used_at) throw gone("export_link_used", "This export link was already used: each link downloads once. Start the export again from the console.");
  throw gone("export_link_expired", `This export link expired unused (links last ${EXPORT_LINK_TTL_MS / 1000} s). Start the export again from the console.`);
}

/** Records how far a link's export got: while streaming (rows so far) and once it ended. */
export async function recordExportProgress(db: Kysely<DB>, id: string, progress: { total?: number; rowsSent: number; finished?: { at: Date; complete: boolean; error?: string } }): Promise<void> {
  const finished = progress.finished ? { finished_at: progress.finished.at, complete: progress.finished.complete, error: progress.finished.error ?? null } : {};
  await db
    .updateTable("console_export_links")
    .set({ rows_sent: progress.rowsSent, ...(progress.total !== undefined ? { total: progress.total } : {}), ...finished })
    .where("id", "=", id)
    .execute();
}

export type ExportLinkState = "waiting" | "expired" | "streaming" | "complete" | "incomplete";

export interface ExportLinkStatus {
  state: ExportLinkState;
  total: number | null;
  rowsSent: number;
  error: string | null;
}

/** A link's progress, for the staff member it was made for only (undefined otherwise: not found). */
export async function exportLinkStatus(db: Kysely<DB>, id: string, staffId: string, now: Date): Promise<ExportLinkStatus | undefined> {
  const row = await db.selectFrom("console_export_links").select(["expires_at", "used_at", "total", "rows_sent", "finished_at", "complete", "error"]).where("id", "=", id).where("staff_id", "=", staffId).executeTakeFirst();
  if (!row) return undefined;
  const state: ExportLinkState = row.finished_at ? (row.complete ? "complete" : "incomplete") : row.used_at ? "streaming" : row.expires_at.getTime() <= now.getTime() ? "expired" : "waiting";
  return { state, total: row.total, rowsSent: row.rows_sent, error: row.error };
}
