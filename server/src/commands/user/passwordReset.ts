import { passwordResetPreview } from "./restorePreviews.js";
import { actionInputs } from "../../../../shared/schemas/actions.js";
import { sealMailSecrets, secretPlaceholder } from "../../mail/mailSecrets.js";
import { enqueueMail } from "../../mail/outbox.js";
import { passwordResetMail } from "../../mail/templates.js";
import { defineCommand } from "../command.js";
import { identityRef, userAfter } from "../identityRef.js";
import { issueBuiltinResetLink } from "./resetLink.js";
import { assertAccountOpen, assertCanSignIn } from "./userTransitions.js";

/**
 * user.password_reset — mails the customer a reset link through Steward's mailer: the built-in
 * identity's own one-time link, or the password-change ticket Auth0 issued. The link itself never
 * reaches the agent or the audit log; the result says how it was delivered.
 */
export const passwordReset = defineCommand({
  action: "user.password_reset",
  targetType: "user",
  input: actionInputs["user.password_reset"],
  provider: "identity",
  precondition: (target) => {
    assertCanSignIn("user.password_reset", target.user);
    assertAccountOpen("user.password_reset", target.account);
  },
  preview: async (target) => passwordResetPreview(target),
  // No re-read: Auth0 cannot list tickets. A ticket whose answer was lost was never mailed (the mail is
  // queued by apply), so the reconciler issues another and the customer gets exactly one link.
  perform: (target, _input, ctx, call) => ctx.deps.identity.sendPasswordReset(identityRef(target.user), call),
  apply: async (trx, target, _input, ctx, delivery) => {
    const link = delivery.method === "ticket" ? { url: delivery.ticketUrl, expiresAt: delivery.expiresAt } : await issueBuiltinResetLink(trx, target.user, ctx);
    const via = delivery.method === "ticket" ? "auth0_password_change_ticket" : "builtin_reset_link";
    // The link is a bearer secret: the stored body holds a placeholder, the link itself is sealed.
    const mail = passwordResetMail({ name: target.user.name, link: secretPlaceholder("link"), expiresAt: link.expiresAt, ticketId: ctx.ticketId, language: ctx.customerLanguage ?? "en" });
    const secretSealed = sealMailSecrets(ctx.deps.config, { link: link.url });
    const { id: mailId } = await enqueueMail(
      trx,
      { to: target.user.email, ...mail, secretSealed, kind: "password_reset", accountId: target.accountId, userId: target.id, ticketId: ctx.ticketId, operationId: ctx.operationId },
      ctx.now,
    );
    const passwordReset = { provider: ctx.deps.identity.name, delivery: via, mailId, mailedTo: target.user.email, linkExpiresAt: link.expiresAt };
    return { after: { ...(await userAfter(trx, target.id)), passwordReset }, result: passwordReset };
  },
});
