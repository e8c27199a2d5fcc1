import { systemActor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import type { AppDeps } from "../deps.js";
import { ZafTokenError, type VerifiedZafToken } from "./zafToken.js";

const SIGN_IN = systemActor("sign-in");

/**
 * Each ZAF token opens at most one session: its key is stored until the token expires, in the
 * database every Steward process shares. A second use is refused (401) and audited.
 */
export async function claimZafToken(deps: Pick<AppDeps, "database" | "clock" | "logger">, verified: VerifiedZafToken, requestId: string | null): Promise<void> {
  const { db } = deps.database;
  const now = deps.clock.now();
  await db.deleteFrom("zaf_token_uses").where("expires_at", "<", now).execute();
  const claimed = await db
    .insertInto("zaf_token_uses")
    .values({ token_key: verified.tokenKey, zendesk_user_id: verified.agent.zendeskUserId, expires_at: verified.expiresAt, used_at: now })
    .onConflict((oc) => oc.column("token_key").doNothing())
    .returning("token_key")
    .executeTakeFirst();
  if (claimed) return;
  const error = new ZafTokenError("replayed");
  try {
    await appendAudit(
      db,
      {
        actor: SIGN_IN,
        action: "session.token_replayed",
        target: { type: "staff", id: null, accountId: null },
        ticketId: verified.agent.ticketId,
        reason: "a Zendesk app token was presented a second time",
        after: { zendeskUserId: verified.agent.zendeskUserId },
        outcome: "denied",
        error: "zaf_token_replayed",
        requestId,
      },
      deps.clock,
    );
  } catch (err) {
    deps.logger.error({ err }, "could not audit a replayed ZAF token");
  }
  throw error;
}
