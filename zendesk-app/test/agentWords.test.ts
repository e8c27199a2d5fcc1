import type { Frame } from "playwright-core";
import { describe, expect, it } from "vitest";
import { systemActor } from "../../server/src/actor.js";
import { registerProduct } from "../../server/src/impersonation/products.js";
import { screenshot } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";

/**
 * What an agent reads in the sidebar says things in their words, not Steward's internals: no bare dash
 * for "nothing scheduled", no outbox kinds in the history, the workspace named in an account form.
 * Real server (PGlite, demo data), real ZAF SDK, the local Zendesk page, at Zendesk's 320 px.
 */
const ui = sidebar320();
const text = async (frame: Frame, selector: string) => ((await frame.textContent(selector)) ?? "").replace(/\s+/g, " ").trim();

describe.each([
  { locale: "en-US", totp: "Authenticator app", noRetry: "Payment failed 4 times · next retry none scheduled", mailAbout: (to: string) => `Clear sign-in lockout · to ${to}`, target: "For Globex Labs (acc_demo_002)" },
  { locale: "de", totp: "Authenticator-App", noRetry: "Zahlung 4-mal fehlgeschlagen · nächster Versuch keiner geplant", mailAbout: (to: string) => `Anmeldesperre aufheben · an ${to}`, target: "Für Globex Labs (acc_demo_002)" },
])("the sidebar's words ($locale)", ({ locale, totp, noRetry, mailAbout, target }) => {
  it("names a user's 2FA methods in words, not the identity provider's codes ('totp')", async () => {
    // Ticket 1002's requester signs in with an authenticator app (totp in the demo identity data).
    const user = await ui.requesterOf(1002);
    expect(user.mfa_methods).toEqual(["totp"]);
    const { page, frame } = await ui.openTicket(1002, "9002", locale);
    expect(await text(frame, '[data-testid="user"] [data-fact="mfa-methods"] dd')).toBe(totp);
    await page.close();
  });

  it("says a failing payment with no retry scheduled has none, as the billing card does (not 'next retry —')", async () => {
    // Ticket 1011: the demo's unpaid subscription, 4 failed attempts, the provider has stopped retrying.
    const { page, frame } = await ui.openTicket(1011, "9002", locale);
    expect(await frame.getAttribute('[data-testid="actions"]', "data-headline")).toBe("past-due");
    expect(await text(frame, '[data-testid="headline"]')).toBe(noRetry);
    await screenshot(page, `words-no-retry-${locale}-320`);
    await page.close();
  });

  it("names the workspace an account action is for, not only its id", async () => {
    const { page, frame } = await ui.openTicket(1002, "9002", locale);
    await frame.click('[data-testid="headline-actions"] button[data-action="billing.trial_extend"]');
    await frame.waitForSelector('[data-testid="action-form"][data-action="billing.trial_extend"]');
    expect(await text(frame, '[data-testid="action-form"] h3 + p')).toBe(target);
    await page.close();
  });

  it("shows the customer email a lockout clear sent as what it was about and to whom, not its outbox kind", async () => {
    const user = await ui.requesterOf(1001);
    const db = ui.steward.deps.database.db;
    await db.updateTable("users").set({ locked_until: new Date(Date.now() + 30 * 60_000), failed_login_count: 7 }).where("id", "=", user.id).execute();
    const deliveries = () => db.selectFrom("audit_log").select("id").where("action", "=", "mail.deliver").where("ticket_id", "=", "1001").execute().then((rows) => rows.length);
    const deliveredBefore = await deliveries();
    const { page, frame } = await ui.openTicket(1001, "9002", locale);
    await frame.click('[data-testid="headline-actions"] button[data-action="user.lockout_clear"]');
    await frame.fill('[data-testid="action-form"] textarea[name="reason"]', "Verified by reply from the requester's address");
    await frame.click('[data-testid="submit-action"]');
    await frame.waitForSelector('[data-testid="action-result"]');
    // The notice leaves through the outbox (the server's delivery loop); its delivery is the entry the agent sees.
    await expect.poll(deliveries, { timeout: 30_000 }).toBeGreaterThan(deliveredBefore);
    await frame.click("#tab-history");
    const entry = '[data-testid="ticket-entries"] li[data-action="mail.deliver"]';
    await frame.waitForSelector(entry);
    const shown = await frame.$$eval(`${entry} .entry-reason`, (els) => els.map((e) => (e.textContent ?? "").trim()));
    expect(shown.length).toBeGreaterThan(0);
    for (const line of shown) expect(line).toBe(mailAbout(user.email));
    expect(await text(frame, '[data-testid="ticket-entries"]')).not.toContain("notice:");
    await screenshot(page, `words-history-mail-${locale}-320`);
    await page.close();
  });
});

describe("the suggested reply after lifting a workspace's suspension", () => {
  it("is not offered while the requester still cannot sign in: it would tell them everyone can", async () => {
    // Ticket 1004: the workspace is suspended, and here its owner, the requester, is suspended on their own too
    // (as user.suspend leaves them): lifting the workspace's suspension does not let them in.
    const user = await ui.requesterOf(1004);
    await ui.steward.deps.database.db.updateTable("users").set({ status: "suspended" }).where("id", "=", user.id).execute();
    const { page, frame } = await ui.openTicket(1004, "9002", "en-US");
    expect(await frame.getAttribute('[data-testid="actions"]', "data-headline")).toBe("account-suspended");
    await frame.click('[data-testid="headline-actions"] button[data-action="account.unsuspend"]');
    await frame.fill('[data-testid="action-form"] textarea[name="reason"]', "Billing confirmed the suspension was a mistake");
    await frame.click('[data-testid="submit-action"]');
    await frame.waitForSelector('[data-testid="action-result"]');
    // The context is read again: the workspace is active, the requester is still suspended.
    await frame.waitForSelector('[data-testid="actions"][data-headline="user-suspended"]');
    await frame.waitForSelector('[data-testid="headline-actions"] button[data-action="user.activate"]');
    // The reply is a lazily loaded view: give it the time it takes to appear where it is offered (next test).
    await page.waitForTimeout(2_000);
    expect(await frame.$('[data-testid="suggested-reply"]')).toBeNull();
    await screenshot(page, "words-unsuspend-no-reply-en-320");
    await page.close();
  });

  it("is offered once the action leaves the requester free to sign in", async () => {
    const { page, frame } = await ui.openTicket(1009, "9002", "en-US");
    await frame.click('[data-testid="headline-actions"] button[data-action="user.unblock"]');
    await frame.fill('[data-testid="action-form"] textarea[name="reason"]', "Admin asked us to lift the block");
    await frame.click('[data-testid="submit-action"]');
    await frame.waitForSelector('[data-testid="actions"][data-headline="ok"]');
    expect(await text(frame, '[data-testid="suggested-reply"] .reply-text')).toMatch(/^Hi \S+, we have lifted the block on your account: you can sign in again now\.$/);
    await page.close();
  });
});

describe("closing an action form without running it", () => {
  it("puts focus back on the button that opened it, from the headline and from the full list", async () => {
    const { page, frame } = await ui.openTicket(1002, "9002", "en-US");
    const focused = () => frame.evaluate(() => `${document.activeElement?.closest("[data-testid]")?.getAttribute("data-testid")}:${document.activeElement?.getAttribute("data-action")}`);
    await frame.focus('[data-testid="headline-actions"] button[data-action="billing.trial_extend"]');
    await page.keyboard.press("Enter");
    await frame.waitForSelector('[data-testid="action-form"][data-action="billing.trial_extend"]');
    await frame.click('[data-testid="action-form"] button:has-text("Cancel")');
    await frame.waitForSelector('[data-testid="action-form"]', { state: "detached" });
    expect(await focused()).toBe("headline-actions:billing.trial_extend");

    await frame.click('[data-testid="all-actions"]');
    await frame.focus('[data-testid="all-actions-list"] button[data-action="billing.credit_apply"]');
    await page.keyboard.press("Enter");
    await frame.waitForSelector('[data-testid="action-form"][data-action="billing.credit_apply"]');
    await frame.click('[data-testid="action-form"] button:has-text("Cancel")');
    await frame.waitForSelector('[data-testid="action-form"]', { state: "detached" });
    expect(await focused()).toBe("all-actions-list:billing.credit_apply");
    await page.close();
  });
});

describe("a live View as customer session in the sidebar", () => {
  it("says its countdown is the idle limit, which activity moves on, and when it ends at the latest", async () => {
    // Ticket 1007's requester; 30 minutes asked, so the idle limit (15 minutes) comes first. The product
    // only has to be registered: the sidebar's countdown is what is checked, not the product's tab.
    await registerProduct(ui.steward.deps.database.db, ui.steward.deps.clock, { id: "prd_words", name: "Demo product", url: "http://localhost:9", actor: systemActor("test") });
    const { page, frame } = await ui.openTicket(1007, "9002", "en-US");
    await frame.waitForSelector('[data-testid="imp-form"]');
    expect(await frame.inputValue("#imp-minutes")).toBe("30");
    await frame.fill("#imp-reason", "Customer says the billing page is empty");
    const opened = page.context().waitForEvent("page");
    await frame.click('[data-testid="imp-start"]');
    const tab = await opened;
    await frame.waitForSelector('[data-testid="imp-live"]');
    const db = ui.steward.deps.database.db;
    const row = await db.selectFrom("impersonation_sessions").selectAll().where("ticket_id", "=", "1007").where("ended_at", "is", null).executeTakeFirstOrThrow();
    const deadline = new Date(row.absolute_deadline);
    // Said as a time today, with its date when it falls past midnight.
    const latest = new Intl.DateTimeFormat("en-US", deadline.toDateString() === new Date().toDateString() ? { timeStyle: "short" } : { dateStyle: "medium", timeStyle: "short" }).format(deadline);
    const countdown = await text(frame, '[data-testid="imp-countdown"]');
    expect(countdown).toMatch(/^Ends in 1[45]:\d\d without activity in the product \(at the latest at .+\)$/);
    expect(countdown.endsWith(`(at the latest at ${latest})`.replace(/\s+/g, " "))).toBe(true);
    await screenshot(page, "words-impersonation-countdown-en-320");
    await frame.click('[data-testid="imp-end"]');
    await frame.waitForSelector('[data-testid="imp-live"]', { state: "detached" });
    await tab.close();
    await page.close();
  });
});
