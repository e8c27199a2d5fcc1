import type { SupportActionName } from "../../../shared/schemas/actions";
import type { AuditLine, RequesterContext } from "../../../shared/schemas/context";
import { date, dateOrTime } from "../format";
import { plural, t, type MessageKey } from "../i18n";

/**
 * The one line that answers the ticket's likely question ("why can't I sign in?", "why is our workspace
 * suspended?", "how long is our trial?"), worked out from the context alone, with the one or two actions
 * that fit it. The first state that applies wins: the account's before the user's, a block before a hint.
 */
export interface Headline {
  kind: string;
  tone: "red" | "yellow" | "blue" | "green";
  text: string;
  actions: SupportActionName[];
}

const DAY = 86_400_000;

/** Who changed it, when, for which ticket and why, from the newest succeeded audit entry of that action. */
function lastDone(context: RequesterContext, actions: string[]): AuditLine | undefined {
  return context.audit.status === "ok" ? context.audit.data.find((line) => actions.includes(line.action) && line.outcome === "succeeded") : undefined;
}

function byWhom(line: AuditLine | undefined, key: MessageKey, plain: MessageKey): string {
  if (!line) return t(plain);
  const who = line.actorName ?? line.actorEmail ?? "?";
  return t(key, { who, date: date(line.occurredAt), ticket: line.ticketId ?? "—", reason: line.reason ?? "" });
}

export function headlineOf(context: RequesterContext, now = Date.now()): Headline {
  const user = context.user;
  const account = context.account.status === "ok" ? context.account.data : null;
  const identity = context.identity.status === "ok" ? context.identity.data : null;
  const billing = context.billing.status === "ok" ? context.billing.data : null;

  if (account?.status === "deleted") return { kind: "account-deleted", tone: "red", text: t("headline.account_deleted", { date: date(account.retentionUntil) }), actions: [] };
  if (account?.status === "suspended")
    return { kind: "account-suspended", tone: "red", text: byWhom(lastDone(context, ["account.suspend"]), "headline.account_suspended_by", "headline.account_suspended"), actions: ["account.unsuspend"] };
  if (account?.status === "deactivated") return { kind: "account-deactivated", tone: "red", text: t("headline.account_deactivated"), actions: ["account.activate"] };
  if (user?.status === "deleted") return { kind: "user-deleted", tone: "red", text: t("headline.user_deleted"), actions: [] };
  if (user?.status === "suspended")
    return { kind: "user-suspended", tone: "red", text: byWhom(lastDone(context, ["user.suspend"]), "headline.user_suspended_by", "headline.user_suspended"), actions: ["user.activate"] };
  if (identity?.locked) {
    const count = identity.failedLoginCount;
    const text = identity.lockedUntil ? t("headline.locked_until", { count, until: dateOrTime(identity.lockedUntil, now) }) : t("headline.locked", { count });
    return { kind: "locked", tone: "red", text, actions: ["user.lockout_clear"] };
  }
  if (identity?.blocked) return { kind: "blocked", tone: "red", text: byWhom(lastDone(context, ["user.block"]), "headline.blocked_by", "headline.blocked"), actions: ["user.unblock"] };
  if (user?.status === "deactivated" || user?.status === "invited") return { kind: `user-${user.status}`, tone: "yellow", text: t(`headline.user_${user.status}`), actions: ["user.activate"] };
  if (billing?.dunning)
    return { kind: "past-due", tone: "red", text: plural("headline.payment_failed", billing.dunning.failedAttempts, { retry: billing.dunning.nextRetryAt ? date(billing.dunning.nextRetryAt) : t("billing.no_retry") }), actions: [] };
  if (account && account.activeAdminCount === 0) return { kind: "no-admin", tone: "yellow", text: t("headline.no_admin"), actions: ["user.promote_admin"] };
  if (account?.overSeatLimit)
    return { kind: "over-seats", tone: "yellow", text: t("headline.over_seats", { used: account.seatsUsed, licensed: account.seatsLicensed }), actions: ["seats.expand_temporarily", "seats.reclaim"] };
  if (billing?.status === "trialing" && billing.trialEnd) {
    const days = Math.max(0, Math.ceil((Date.parse(billing.trialEnd) - now) / DAY));
    return { kind: "trial", tone: "blue", text: plural("headline.trial_ends", days, { date: date(billing.trialEnd) }), actions: ["billing.trial_extend"] };
  }
  if (billing?.cancelAtPeriodEnd) return { kind: "cancels", tone: "yellow", text: t("headline.cancels", { date: date(billing.cancelAt ?? billing.currentPeriodEnd) }), actions: [] };
  return { kind: "ok", tone: "green", text: t("headline.ok", { last: date(identity?.lastLoginAt) }), actions: [] };
}
