import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Transaction } from "kysely";
import type { DB, User } from "../../db/schema.js";
import type { CommandContext } from "../command.js";

/** How long a built-in reset link works (the same as the Auth0 ticket Steward asks for). */
export const RESET_LINK_TTL_HOURS = 24;

/**
 * The built-in identity's reset link: a random one-time token on the product's reset page. Only
 * its hash is stored, so neither the database nor the audit log holds a usable link.
 */
export async function issueBuiltinResetLink(trx: Transaction<DB>, user: User, ctx: CommandContext): Promise<{ url: string; expiresAt: string }> {
  const token = randomBytes(32).toString("base64url");
  const expiresAt = new Date(ctx.now.getTime() + RESET_LINK_TTL_HOURS * 3_600_000);
  await trx
    .insertInto("password_reset_tokens")
    .values({ id: `prt_${randomUUID()}`, user_id: user.id, token_sha256: createHash("sha256").update(token).digest("hex"), expires_at: expiresAt, ticket_id: ctx.ticketId, created_at: ctx.now, used_at: null })
    .execute();
  const url = new URL(ctx.deps.config.PRODUCT_RESET_URL);
  url.searchParams.set("token", token);
  return { url: url.toString(), expiresAt: expiresAt.toISOString() };
}
