import type { ActionName } from "../../../shared/actions.js";
import type { Executor, CommandTarget } from "../commands/targets.js";
import { ADMIN_ROLES } from "../commands/accountAdmins.js";
import { passwordResetMail, type MailContent } from "./templates.js";

/**
 * The customer notices an action may send ("notify the customer"): plain text, the same text the
 * sidebar shows before the agent submits. Security notices (password reset, 2FA reset) are mandatory:
 * whoever asked for the change, the address on file learns of it.
 */
interface NoticeSpec {
  mandatory: boolean;
  subject: string;
  /** What happened, as one sentence about the customer's account (`{account}`: the workspace's name). */
  line: string;
  /** Security notices: what to do if the customer did not ask for it. */
  security?: boolean;
  /** The action's own mail is the notice (the reset link tells the address on file): nothing more is queued. */
  ownMail?: (args: NoticeArgs) => MailContent;
}

interface NoticeArgs {
  name: string;
  accountName: string;
  ticketId: string | null;
}

const notices: Partial<Record<ActionName, NoticeSpec>> = {
  "user.password_reset": {
    mandatory: true,
    security: true,
    subject: "Reset your password",
    line: "",
    ownMail: (args) => passwordResetMail({ name: args.name, link: "[a one-time link]", expiresAt: null, ticketId: args.ticketId ?? "" }),
  },
  "user.mfa_reset": { mandatory: true, security: true, subject: "Security notice: two-factor authentication was reset", line: "our support team reset two-factor authentication on your account in {account}; at your next sign-in you will be asked to set it up again" },
  "user.lockout_clear": { mandatory: false, subject: "You can sign in again", line: "we cleared the lock on your account in {account} after too many sign-in attempts; you can sign in again now" },
  "user.unblock": { mandatory: false, subject: "Your sign-in is unblocked", line: "we unblocked sign-in to your account in {account}" },
  "user.block": { mandatory: false, subject: "Sign-in to your account is blocked", line: "we blocked sign-in to your account in {account}" },
  "user.sessions_revoke": { mandatory: false, subject: "You were signed out everywhere", line: "we signed your account in {account} out of every device; sign in again to continue" },
  "user.suspend": { mandatory: false, subject: "Your account is suspended", line: "we suspended your account in {account}; you cannot sign in until it is reactivated" },
  "user.activate": { mandatory: false, subject: "Your account is active", line: "we activated your account in {account}; you can sign in" },
  "user.deactivate": { mandatory: false, subject: "Your account was deactivated", line: "we deactivated your account in {account}; you can no longer sign in" },
  "user.delete": { mandatory: false, subject: "Your account was deleted", line: "we deleted your account in {account}" },
  "account.suspend": { mandatory: false, subject: "Your workspace is suspended", line: "we suspended the workspace {account}: nobody can sign in until it is unsuspended; billing continues as before" },
  "account.unsuspend": { mandatory: false, subject: "Your workspace is no longer suspended", line: "we lifted the suspension of the workspace {account}: everyone can sign in again" },
  "account.activate": { mandatory: false, subject: "Your workspace is active again", line: "we reactivated the workspace {account}" },
  "account.deactivate": { mandatory: false, subject: "Your workspace was deactivated", line: "we deactivated the workspace {account}: access is removed and the subscription ends at the end of the period" },
  "account.delete": { mandatory: false, subject: "Your workspace was deleted", line: "we deleted the workspace {account}; its data is kept for a while before it is removed for good" },
  "billing.trial_extend": { mandatory: false, subject: "Your trial was extended", line: "we extended the trial of {account}" },
  "billing.credit_apply": { mandatory: false, subject: "A credit was added to your balance", line: "we added a credit to the balance of {account}; it is used on your next invoices" },
  "billing.plan_change": { mandatory: false, subject: "Your plan was changed", line: "we changed the plan of {account}" },
  "billing.subscription_cancel": { mandatory: false, subject: "Your subscription was cancelled", line: "we cancelled the subscription of {account}" },
};

export function noticeOf(action: string): NoticeSpec | null {
  return notices[action as ActionName] ?? null;
}

export function isNoticeMandatory(action: string): boolean {
  return noticeOf(action)?.mandatory === true;
}

export interface NoticeRecipient {
  email: string;
  name: string;
}

/**
 * A user action tells the user; an account action tells the account's owners and admins, suspended
 * ones included (a suspended workspace's people are who an unsuspend is news to).
 */
export async function noticeRecipients(db: Executor, target: CommandTarget): Promise<NoticeRecipient[]> {
  if (target.type === "user") return [{ email: target.user.email, name: target.user.name }];
  return db
    .selectFrom("users")
    .select(["email", "name"])
    .where("account_id", "=", target.id)
    .where("role", "in", [...ADMIN_ROLES])
    .where("status", "in", ["active", "suspended"])
    .orderBy("email")
    .execute();
}

/** Whether a notice is queued beside the action (not when the action's own mail is the notice). */
export function queuesNotice(action: string): boolean {
  const spec = noticeOf(action);
  return spec !== null && !spec.ownMail;
}

export function renderNotice(action: string, args: NoticeArgs): MailContent | null {
  const spec = noticeOf(action);
  if (!spec) return null;
  if (spec.ownMail) return spec.ownMail(args);
  const line = spec.line.replace("{account}", args.accountName);
  const ticket = args.ticketId ? `support ticket #${args.ticketId}` : "your support ticket";
  return {
    subject: spec.subject,
    bodyText: [
      `Hello ${args.name},`,
      "",
      `As part of ${ticket}, ${line}.`,
      "",
      spec.security ? "If you did not ask for this, reply to this email or contact support right away." : "If you have questions, reply to your support ticket.",
    ].join("\n"),
  };
}
