import { systemActor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import type { AppDeps } from "../deps.js";
import { Problem, toProblem } from "../http/problem.js";
import { GrantError, verifyGrant } from "./grant.js";
import type { Product } from "./products.js";
import { grantKeysFor } from "./signingKeys.js";
import { idleDeadlineAfter, loadSession, type SessionRow } from "./sessions.js";

/** The product, as the audit log names it when it redeems (or fails to redeem) a grant. */
function productActor(product: Product) {
  return systemActor(`product:${product.id}`);
}

/**
 * Exchanges a grant for the session it opens, once: verified like the product verifies it (ES256, a
 * published kid, issuer, audience = this product, ≤ 60 s), then marked redeemed by its `jti` in one
 * conditional update, so a replay — even two at once — is refused. Every refusal is audited.
 */
export async function redeemGrant(deps: AppDeps, product: Product, token: string): Promise<SessionRow> {
  const now = deps.clock.now();
  let sid: string | null = null;
  let ticket: string | null = null;
  let userId: string | null = null;
  try {
    const claims = await verifyGrant(grantKeysFor(deps.config), token, { issuer: deps.config.publicUrl, audience: product.id, now });
    ({ sid, ticket, sub: userId } = claims);
    return await deps.database.db.transaction().execute(async (trx) => {
      const redeemed = await trx
        .updateTable("impersonation_sessions")
        .set({ redeemed_at: now })
        .where("grant_jti", "=", claims.jti)
        .where("id", "=", claims.sid)
        .where("user_id", "=", claims.sub)
        .where("product_id", "=", product.id)
        .where("mode", "=", claims.mode)
        .where("redeemed_at", "is", null)
        .where("ended_at", "is", null)
        .returningAll()
        .executeTakeFirst();
      if (!redeemed) {
        // Ended before anyone used the grant (stopped, revoked, expired): say so, rather than record a replay.
        const unused = await trx.selectFrom("impersonation_sessions").select(["ended_at", "end_reason"]).where("id", "=", claims.sid).where("grant_jti", "=", claims.jti).where("redeemed_at", "is", null).executeTakeFirst();
        if (unused?.ended_at) throw Problem.conflict("session_ended", `Session ${claims.sid} ended (${unused.end_reason}) before its grant was used; start a new session from the ticket`);
        throw new GrantError("replayed");
      }
      // Opening the product is activity: the idle clock starts now.
      const session = await trx
        .updateTable("impersonation_sessions")
        .set({ last_activity_at: now, idle_deadline: idleDeadlineAfter(now, new Date(redeemed.absolute_deadline), deps.config) })
        .where("id", "=", redeemed.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await appendAudit(
        trx,
        { actor: productActor(product), action: "impersonation.redeem", target: { type: "user", id: session.user_id, accountId: session.account_id }, ticketId: session.ticket_id, reason: session.reason, after: { sessionId: session.id, productId: product.id, mode: session.mode }, outcome: "succeeded" },
        deps.clock,
      );
      return session;
    });
  } catch (err) {
    const problem = toProblem(err);
    const session = sid ? await loadSession(deps.database.db, sid).catch(() => null) : null;
    await appendAudit(
      deps.database.db,
      {
        actor: productActor(product),
        action: "impersonation.redeem",
        target: { type: "user", id: session?.user_id ?? userId, accountId: session?.account_id ?? null },
        ticketId: session?.ticket_id ?? ticket,
        reason: null,
        after: { sessionId: sid, productId: product.id },
        outcome: "denied",
        error: `${problem.code}: ${problem.detail ?? problem.title}`,
      },
      deps.clock,
    ).catch((auditErr: unknown) => deps.logger.error({ err: auditErr }, "could not audit a refused grant"));
    throw err;
  }
}
