import type { Frame } from "playwright-core";
import { describe, expect, it } from "vitest";
import { screenshot } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";

/**
 * Two keyboard-and-eye details testers found: Escape closes an action form as Cancel does, and the
 * requester picker says which of its results is the user shown now. Real server (PGlite, demo data),
 * real ZAF SDK, the local Zendesk page, at Zendesk's 320 px.
 */
const ui = sidebar320();
const focused = (frame: Frame) => frame.evaluate(() => `${document.activeElement?.closest("[data-testid]")?.getAttribute("data-testid")}:${document.activeElement?.getAttribute("data-action")}`);

describe("Escape in an open action form", () => {
  it("closes it and puts focus back on the button that opened it, from the headline and from the full list", async () => {
    const { page, frame } = await ui.openTicket(1002, "9002", "en-US");
    await frame.focus('[data-testid="headline-actions"] button[data-action="billing.trial_extend"]');
    await page.keyboard.press("Enter");
    await frame.waitForSelector('[data-testid="action-form"][data-action="billing.trial_extend"]');
    // Typing in a field first: Escape from inside the form, wherever focus is in it.
    await frame.click('[data-testid="action-form"] textarea[name="reason"]');
    await page.keyboard.type("Customer asked");
    await page.keyboard.press("Escape");
    await frame.waitForSelector('[data-testid="action-form"]', { state: "detached" });
    expect(await focused(frame)).toBe("headline-actions:billing.trial_extend");

    await frame.click('[data-testid="all-actions"]');
    await frame.focus('[data-testid="all-actions-list"] button[data-action="billing.credit_apply"]');
    await page.keyboard.press("Enter");
    await frame.waitForSelector('[data-testid="action-form"][data-action="billing.credit_apply"]');
    await frame.focus('[data-testid="action-form"] [data-testid="submit-action"]');
    await page.keyboard.press("Escape");
    await frame.waitForSelector('[data-testid="action-form"]', { state: "detached" });
    expect(await focused(frame)).toBe("all-actions-list:billing.credit_apply");
    await page.close();
  });
});

describe.each([
  { locale: "en-US", shownNow: "Shown now" },
  { locale: "de", shownNow: "Wird angezeigt" },
])("the requester picker's results ($locale)", ({ locale, shownNow }) => {
  it("mark the user the sidebar shows now, in words, and only that one", async () => {
    await ui.steward.deps.database.db.deleteFrom("ticket_requester_picks").execute();
    const user = await ui.requesterOf(1002);
    const { page, frame } = await ui.openTicket(1002, "9002", locale);
    await frame.click('[data-testid="user"] .link-btn');
    await frame.fill("#picker-q", user.email);
    const hit = `[data-testid="search-hits"] [data-testid="pick-user"][data-user-id="${user.id}"]`;
    await frame.waitForSelector(hit);
    expect(await frame.textContent(hit)).toContain(shownNow);
    expect(await frame.getAttribute(hit, "aria-current")).toBe("true");
    // Among the users of the account (opened from the search), only the shown user is marked.
    await frame.fill("#picker-q", user.account_id);
    await frame.click(`[data-testid="search-hits"] [data-testid="open-account"][data-account-id="${user.account_id}"]`);
    await frame.waitForSelector(`[data-testid="account-users"] [data-testid="pick-user"][data-user-id="${user.id}"]`);
    const listed = await frame.$$eval('[data-testid="account-users"] [data-testid="pick-user"]', (bs) => bs.map((b) => ({ id: b.getAttribute("data-user-id"), text: b.textContent ?? "" })));
    expect(listed.length).toBeGreaterThan(1);
    expect(listed.filter((b) => b.text.includes(shownNow)).map((b) => b.id)).toEqual([user.id]);
    await screenshot(page, `picker-shown-now-${locale}-320`);
    await page.close();
  });
});
