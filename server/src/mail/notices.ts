import type { ActionName } from "../../../shared/actions.js";
import type { Executor, CommandTarget } from "../commands/targets.js";
import { ADMIN_ROLES } from "../commands/accountAdmins.js";
import { passwordResetMail, type MailContent, type MailLanguage } from "./templates.js";

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
  /** The customer's language (the ticket requester's locale); English when not given. */
  language?: MailLanguage;
}

const notices: Partial<Record<ActionName, NoticeSpec>> = {
  "user.password_reset": {
    mandatory: true,
    security: true,
    subject: "Reset your password",
    line: "",
    ownMail: (args) => passwordResetMail({ name: args.name, link: args.language === "de" ? "[ein einmaliger Link]" : "[a one-time link]", expiresAt: null, ticketId: args.ticketId ?? "", language: args.language ?? "en" }),
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
  "user.impersonation_protect": { mandatory: false, subject: "Support will not view your account as you", line: "we protected your account in {account}: our support team will no longer view it as you" },
  // The customer asked for the protection, so its address learns when it is lifted, whoever asked for that.
  "user.impersonation_unprotect": { mandatory: true, security: true, subject: "Security notice: support may view your account as you again", line: "we lifted the protection of your account in {account}: our support team may again view it as you while working on a ticket" },
  "account.suspend": { mandatory: false, subject: "Your workspace is suspended", line: "we suspended the workspace {account}: nobody can sign in until it is unsuspended; billing continues as before" },
  "account.unsuspend": { mandatory: false, subject: "Your workspace is no longer suspended", line: "we lifted the suspension of the workspace {account}: it is open for sign-in again" },
  "account.activate": { mandatory: false, subject: "Your workspace is active again", line: "we reactivated the workspace {account}" },
  "account.deactivate": { mandatory: false, subject: "Your workspace was deactivated", line: "we deactivated the workspace {account}: access is removed and the subscription ends at the end of the period" },
  "account.delete": { mandatory: false, subject: "Your workspace was deleted", line: "we deleted the workspace {account}; its data is kept for a while before it is removed for good" },
  "billing.trial_extend": { mandatory: false, subject: "Your trial was extended", line: "we extended the trial of {account}" },
  "billing.credit_apply": { mandatory: false, subject: "A credit was added to your balance", line: "we added a credit to the balance of {account}; it is used on your next invoices" },
  "billing.plan_change": { mandatory: false, subject: "Your plan was changed", line: "we changed the plan of {account}" },
  "billing.subscription_cancel": { mandatory: false, subject: "Your subscription was cancelled", line: "we cancelled the subscription of {account}" },
};

/** The German notices: the same facts as the English ones, for customers whose ticket is in German. */
const german: Partial<Record<ActionName, Pick<NoticeSpec, "subject" | "line">>> = {
  "user.mfa_reset": { subject: "Sicherheitshinweis: Die Zwei-Faktor-Authentifizierung wurde zurückgesetzt", line: "hat unser Support-Team die Zwei-Faktor-Authentifizierung Ihres Kontos in {account} zurückgesetzt; bei der nächsten Anmeldung werden Sie gebeten, sie neu einzurichten" },
  "user.lockout_clear": { subject: "Sie können sich wieder anmelden", line: "haben wir die Sperre Ihres Kontos in {account} nach zu vielen Anmeldeversuchen aufgehoben; Sie können sich jetzt wieder anmelden" },
  "user.unblock": { subject: "Ihre Anmeldung ist wieder freigegeben", line: "haben wir die Anmeldung für Ihr Konto in {account} wieder freigegeben" },
  "user.block": { subject: "Die Anmeldung für Ihr Konto ist blockiert", line: "haben wir die Anmeldung für Ihr Konto in {account} blockiert" },
  "user.sessions_revoke": { subject: "Sie wurden überall abgemeldet", line: "haben wir Ihr Konto in {account} auf allen Geräten abgemeldet; melden Sie sich erneut an, um fortzufahren" },
  "user.suspend": { subject: "Ihr Konto ist suspendiert", line: "haben wir Ihr Konto in {account} suspendiert; Sie können sich nicht anmelden, bis es wieder aktiviert ist" },
  "user.activate": { subject: "Ihr Konto ist aktiv", line: "haben wir Ihr Konto in {account} aktiviert; Sie können sich anmelden" },
  "user.deactivate": { subject: "Ihr Konto wurde deaktiviert", line: "haben wir Ihr Konto in {account} deaktiviert; Sie können sich nicht mehr anmelden" },
  "user.delete": { subject: "Ihr Konto wurde gelöscht", line: "haben wir Ihr Konto in {account} gelöscht" },
  "user.impersonation_protect": { subject: "Der Support sieht Ihr Konto nicht mehr als Sie an", line: "haben wir Ihr Konto in {account} geschützt: Unser Support-Team sieht es nicht mehr als Sie an" },
  "user.impersonation_unprotect": { subject: "Sicherheitshinweis: Der Support kann Ihr Konto wieder als Sie ansehen", line: "haben wir den Schutz Ihres Kontos in {account} aufgehoben: Unser Support-Team kann es bei der Arbeit an einem Ticket wieder als Sie ansehen" },
  "account.suspend": { subject: "Ihr Workspace ist suspendiert", line: "haben wir den Workspace {account} suspendiert: Niemand kann sich anmelden, bis die Suspendierung aufgehoben ist; die Abrechnung läuft wie bisher weiter" },
  "account.unsuspend": { subject: "Ihr Workspace ist nicht mehr suspendiert", line: "haben wir die Suspendierung des Workspace {account} aufgehoben: Die Anmeldung beim Workspace ist wieder möglich" },
  "account.activate": { subject: "Ihr Workspace ist wieder aktiv", line: "haben wir den Workspace {account} wieder aktiviert" },
  "account.deactivate": { subject: "Ihr Workspace wurde deaktiviert", line: "haben wir den Workspace {account} deaktiviert: Der Zugang ist entfernt und das Abonnement endet zum Ende des Zeitraums" },
  "account.delete": { subject: "Ihr Workspace wurde gelöscht", line: "haben wir den Workspace {account} gelöscht; seine Daten werden noch eine Weile aufbewahrt und dann endgültig entfernt" },
  "billing.trial_extend": { subject: "Ihr Testzeitraum wurde verlängert", line: "haben wir den Testzeitraum von {account} verlängert" },
  "billing.credit_apply": { subject: "Ihrem Guthaben wurde eine Gutschrift hinzugefügt", line: "haben wir dem Guthaben von {account} eine Gutschrift hinzugefügt; sie wird mit Ihren nächsten Rechnungen verrechnet" },
  "billing.plan_change": { subject: "Ihr Tarif wurde geändert", line: "haben wir den Tarif von {account} geändert" },
  "billing.subscription_cancel": { subject: "Ihr Abonnement wurde gekündigt", line: "haben wir das Abonnement von {account} gekündigt" },
};

/** The languages a notice has a translation in (every notice has English). */
export function noticeLanguages(action: string): MailLanguage[] {
  return german[action as ActionName] || noticeOf(action)?.ownMail ? ["en", "de"] : ["en"];
}

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

/** The notice as the customer reads it: in their language where the notice has a translation, else in English. */
export function renderNotice(action: string, args: NoticeArgs): MailContent | null {
  const spec = noticeOf(action);
  if (!spec) return null;
  if (spec.ownMail) return spec.ownMail(args);
  const de = args.language === "de" ? german[action as ActionName] : undefined;
  if (de) {
    const ticket = args.ticketId ? `Ihres Support-Tickets #${args.ticketId}` : "Ihres Support-Tickets";
    return {
      subject: de.subject,
      bodyText: [
        `Hallo ${args.name},`,
        "",
        `im Rahmen ${ticket} ${de.line.replace("{account}", args.accountName)}.`,
        "",
        spec.security ? "Wenn Sie das nicht angefordert haben, antworten Sie bitte auf diese E-Mail oder wenden Sie sich sofort an den Support." : "Wenn Sie Fragen haben, antworten Sie auf Ihr Support-Ticket.",
      ].join("\n"),
    };
  }
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
