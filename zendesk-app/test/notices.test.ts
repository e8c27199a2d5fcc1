import { describe, expect, it } from "vitest";
import { axeViolations } from "./support/axe.js";
import { screenshot } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";

/**
 * "Notify the customer" in the action forms at Zendesk's 320 px, in English and German: the email's
 * recipients, subject and text are shown before submit; ticked, it is queued with the action, unticked
 * nothing is sent; after a 2FA reset the security notice is ticked and cannot be unticked. The email is
 * in the customer's language (the ticket requester's Zendesk locale, where translated), not the agent's:
 * an English agent writes to a German customer in German and the other way round. Real server (PGlite,
 * demo data), the local Zendesk page.
 */
const ui = sidebar320();
const db = () => ui.steward.deps.database.db;
const mailsOf = (ticketId: number) => db().selectFrom("mail_outbox").select(["kind", "to_address", "subject", "body_text"]).where("ticket_id", "=", String(ticketId)).execute();

describe.each([
  {
    locale: "en-US",
    requesterLocale: "de",
    suspended: 1004,
    notify: true,
    label: "Notify the customer by email",
    mandatory: "A security notice is always sent after this action.",
    mfaTicket: 1009,
    unsuspended: (ticket: number) => `im Rahmen Ihres Support-Tickets #${ticket} haben wir die Suspendierung des Workspace`,
    mfaSubject: "Sicherheitshinweis: Die Zwei-Faktor-Authentifizierung wurde zurückgesetzt",
  },
  {
    locale: "de",
    requesterLocale: "en-US",
    suspended: 1003,
    notify: false,
    label: "Kunden per E-Mail benachrichtigen",
    mandatory: "Nach dieser Aktion wird immer ein Sicherheitshinweis gesendet.",
    mfaTicket: 1002,
    unsuspended: (ticket: number) => `As part of support ticket #${ticket}, we lifted the suspension of the workspace`,
    mfaSubject: "Security notice: two-factor authentication was reset",
  },
])("customer notices ($locale agent, $requesterLocale customer, 320 px)", ({ locale, requesterLocale, suspended, notify, label, mandatory, mfaTicket, unsuspended, mfaSubject }) => {
  it("shows the email before an unsuspend and sends it only when ticked", async () => {
    const requester = await ui.requesterOf(suspended);
    await db().updateTable("accounts").set({ status: "suspended" }).where("id", "=", requester.account_id).execute();
    const { page, frame } = await ui.openTicket(suspended, "9002", locale, { requesterLocale });
    await frame.click('[data-testid="headline-actions"] button[data-action="account.unsuspend"]');
    const choice = await frame.waitForSelector('[data-testid="customer-notice"]');
    expect(await choice.getAttribute("data-mandatory")).toBe("false");
    expect(await frame.textContent('[data-testid="customer-notice"] label')).toBe(label);
    expect(await frame.isChecked('[data-testid="customer-notice"] input')).toBe(true);
    const shown = (await frame.textContent('[data-testid="notice-text"] .notice-body')) ?? "";
    expect(shown).toContain(unsuspended(suspended));
    expect(await axeViolations(frame), `notice-${locale}`).toEqual([]);
    await screenshot(page, `notice-${locale}-320`);
    if (!notify) {
      await frame.click('[data-testid="customer-notice"] input');
      await frame.waitForSelector('[data-testid="notice-text"]', { state: "detached" });
    }
    await frame.fill('[data-testid="action-form"] textarea[name="reason"]', "Payment cleared, customer asked to lift it");
    await frame.click('[data-testid="submit-action"]');
    await frame.waitForSelector('[data-testid="action-result"]');
    const mails = await mailsOf(suspended);
    if (notify) {
      expect(mails.length).toBeGreaterThan(0);
      expect(mails.every((m) => m.kind === "notice:account.unsuspend")).toBe(true);
      expect(mails.map((m) => m.body_text)).toContain(shown);
    } else expect(mails).toEqual([]);
    await page.close();
  });

  it("after a 2FA reset the security notice is ticked and cannot be unticked, and is sent", async () => {
    const requester = await ui.requesterOf(mfaTicket);
    await db().updateTable("users").set({ mfa_enrolled: true, mfa_methods: ["totp"], locked_until: null }).where("id", "=", requester.id).execute();
    const { page, frame } = await ui.openTicket(mfaTicket, "9002", locale, { requesterLocale });
    await frame.click('[data-testid="all-actions"]');
    await frame.click('[data-testid="all-actions-list"] button[data-action="user.mfa_reset"]');
    await frame.waitForSelector('[data-testid="customer-notice"][data-mandatory="true"]');
    expect(await frame.isChecked('[data-testid="customer-notice"] input')).toBe(true);
    expect(await frame.isDisabled('[data-testid="customer-notice"] input')).toBe(true);
    expect(await frame.textContent('[data-testid="customer-notice"] p.muted')).toBe(mandatory);
    expect(await frame.textContent('[data-testid="notice-text"]')).toContain(mfaSubject);
    expect(await frame.textContent('[data-testid="notice-text"]')).toContain(requester.email);
    expect(await axeViolations(frame), `notice-mandatory-${locale}`).toEqual([]);
    await screenshot(page, `notice-mandatory-${locale}-320`);
    await frame.selectOption('[data-testid="action-form"] select[name="identityVerification"]', "callback_known_phone");
    await frame.fill('[data-testid="action-form"] textarea[name="verificationNote"]', "Called back on the number on file");
    await frame.fill('[data-testid="action-form"] textarea[name="reason"]', "Lost phone, verified by callback");
    await frame.click('[data-testid="submit-action"]');
    // A 2FA reset previews the factors it removes and the notice first (its input is typed before the preview).
    await frame.waitForSelector('[data-testid="preview"]');
    expect(await frame.textContent('[data-testid="preview"]')).toContain(requester.email);
    await frame.click('[data-testid="confirm-action"]');
    await frame.waitForSelector('[data-testid="action-result"]');
    expect((await mailsOf(mfaTicket)).map((m) => [m.kind, m.to_address, m.subject])).toEqual([["notice:user.mfa_reset", requester.email, mfaSubject]]);
    await page.close();
  });
});
