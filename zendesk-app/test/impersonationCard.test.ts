import type { Frame } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { systemActor } from "../../server/src/actor.js";
import { recordEvents } from "../../server/src/impersonation/events.js";
import { setCustomerNotices } from "../../server/src/impersonation/notices.js";
import { registerProduct } from "../../server/src/impersonation/products.js";
import { deliverDueNotes } from "../../server/src/zendesk/ticketNotes.js";
import { createZendeskClient } from "../../server/src/zendesk/zendeskClient.js";
import { axeViolations } from "./support/axe.js";
import { screenshot } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";
import { startFrom } from "./support/impersonation.js";

/**
 * The View as customer card as an agent meets it, at Zendesk's 320 px: a requester who cannot be viewed
 * is said so instead of offered a form the server refuses; a second session from the same sidebar
 * starts (the first one's start and end changed the user); End by keyboard leaves focus on the form;
 * another agent's live session on the ticket is shown; counts use the language's plural; the ticket's
 * history says what the agent did in the product.
 * Real server (PGlite, demo data), real ZAF SDK, the local Zendesk page; the product is not running
 * (the tab it opens is not looked at here).
 */
const ui = sidebar320();
const text = async (frame: Frame, selector: string) => ((await frame.textContent(selector)) ?? "").trim().replace(/\s+/g, " ");

beforeAll(async () => {
  await registerProduct(ui.steward.deps.database.db, ui.steward.deps.clock, { id: "prd_card", name: "Card product", url: "http://localhost:9", actor: systemActor("test") });
});


describe("View as customer card (320 px)", () => {
  it("en: a blocked requester gets the reason instead of a form; de says it in German", async () => {
    const user = await ui.requesterOf(1009);
    expect(user.blocked).toBe(true);
    const { page, frame } = await ui.openTicket(1009, "9002", "en-US");
    await frame.waitForSelector('[data-testid="imp-unavailable"]');
    expect(await text(frame, '[data-testid="imp-unavailable"]')).toBe("View as customer is not possible here: the user cannot sign in, so there is nothing to view.");
    expect(await frame.$('[data-testid="imp-form"]')).toBeNull();
    expect(await axeViolations(frame), "imp-unavailable-en-320").toEqual([]);
    await screenshot(page, "imp-card-unavailable-en-320");
    await page.close();
    const de = await ui.openTicket(1009, "9002", "de");
    await de.frame.waitForSelector('[data-testid="imp-unavailable"]');
    expect(await text(de.frame, '[data-testid="imp-unavailable"]')).toBe("„Als Kunde ansehen“ ist hier nicht möglich: der Benutzer kann sich nicht anmelden, daher gibt es nichts anzusehen.");
    await de.page.close();
  });

  it("en: start, End by keyboard (focus back on the form), start again from the same sidebar; one action is '1 action'", async () => {
    const { page, frame } = await ui.openTicket(1006, "9002", "en-US");
    await frame.waitForSelector('[data-testid="imp-form"]');
    // The duration is required: emptied, the browser says so and nothing starts.
    await frame.fill("#imp-minutes", "");
    await frame.fill("#imp-reason", "Customer says the projects page is empty");
    await frame.click('[data-testid="imp-start"]');
    expect(await frame.$eval("#imp-minutes", (input) => (input as HTMLInputElement).validity.valueMissing)).toBe(true);
    expect(await frame.$('[data-testid="imp-live"]')).toBeNull();
    await frame.fill("#imp-minutes", "10");

    const first = await startFrom(page, frame, "Customer says the projects page is empty");
    // Focus follows to the live session (the Start button it was on is gone).
    expect(await frame.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("imp-live");
    await ui.steward.deps.database.db.updateTable("impersonation_sessions").set({ action_count: 1 }).where("id", "=", first).execute();
    await frame.waitForFunction(() => document.querySelector('[data-testid="imp-actions"]')?.textContent === "1 action", undefined, { timeout: 15_000 });
    await screenshot(page, "imp-card-live-en-320");

    await frame.focus('[data-testid="imp-end"]');
    await page.keyboard.press("Enter");
    await frame.waitForSelector('[data-testid="imp-form"]');
    await expect.poll(() => frame.evaluate(() => document.activeElement?.id)).toBe("imp-mode");
    expect(await text(frame, `[data-testid="imp-past"] li[data-sid="${first}"]`)).toContain("· 1 action ·");

    // The first session's start and end changed the user: the second start must not be refused as stale.
    const second = await startFrom(page, frame, "Customer says the projects page is empty again");
    expect(second).not.toBe(first);
    expect(await frame.$('[data-testid="problem"]')).toBeNull();
    await frame.click('[data-testid="imp-end"]');
    await frame.waitForSelector('[data-testid="imp-form"]');
    await page.close();
  });

  it("en: another agent viewing the customer from this ticket is shown, and gone once they end", async () => {
    const ops = await ui.openTicket(1007, "9003", "en-US");
    await ops.frame.waitForSelector('[data-testid="imp-form"]');
    await startFrom(ops.page, ops.frame, "Checking the billing page the customer sees");
    const { page, frame } = await ui.openTicket(1007, "9002", "en-US");
    await frame.waitForSelector('[data-testid="imp-other-live"]');
    expect(await text(frame, '[data-testid="imp-other-live"]')).toMatch(/^Olive Ops is viewing this customer from this ticket now \(Read-only, since .+\)\.$/);
    expect(await axeViolations(frame), "imp-other-live-en-320").toEqual([]);
    await screenshot(page, "imp-card-other-live-en-320");
    await ops.frame.click('[data-testid="imp-end"]');
    await ops.frame.waitForSelector('[data-testid="imp-form"]');
    await ops.page.close();
    await frame.waitForSelector('[data-testid="imp-other-live"]', { state: "detached", timeout: 15_000 });
    await page.close();
  });

  it("en: the ticket's history says what the agent did in the product, request by request, and which note each note entry is", async () => {
    const { page, frame } = await ui.openTicket(1008, "9002", "en-US");
    await frame.waitForSelector('[data-testid="imp-form"]');
    const sid = await startFrom(page, frame, "Customer cannot find the billing page");
    const db = ui.steward.deps.database.db;
    const product = await db.selectFrom("impersonation_products").selectAll().where("id", "=", "prd_card").executeTakeFirstOrThrow();
    const occurredAt = ui.steward.deps.clock.now().toISOString();
    const event = (id: string, method: string, route: string, outcome: "succeeded" | "refused", detail: string | null = null) => ({ id, method, route, object: null, outcome, status: outcome === "succeeded" ? 200 : 403, detail, occurredAt });
    await recordEvents(ui.steward.deps, product, sid, {
      events: [event("ev-billing", "GET", "GET /billing", "succeeded"), event("ev-card", "POST", "POST /billing/payment-methods", "refused", "Support agents can never change payment methods")],
    });
    await frame.click('[data-testid="imp-end"]');
    await frame.waitForSelector('[data-testid="imp-form"]');
    // The internal notes of the start and the end, sent to the local Zendesk page as the note loop would.
    const client = createZendeskClient({ ...ui.steward.deps.config, zendeskApiUrl: `${ui.steward.appOrigin}/zendesk/api/v2` });
    await deliverDueNotes(ui.steward.deps, { client });
    await frame.click("#tab-history");
    await frame.waitForSelector('[data-testid="ticket-entries"] [data-action="impersonation.event"]');
    const events = await frame.$$eval('[data-testid="ticket-entries"] [data-action="impersonation.event"] [data-testid="product-event"]', (items) => items.map((i) => i.textContent));
    expect(events).toEqual(["POST /billing/payment-methods", "GET /billing"]);
    // Each note entry says which note it was, not its stored kind ("impersonation_ended note").
    const noteLines = await frame.$$eval('[data-testid="ticket-entries"] [data-action="zendesk.note_add"] .entry-reason', (items) => items.map((i) => i.textContent));
    expect(noteLines).toEqual(["Note: View as customer ended", "Note: View as customer started"]);
    await screenshot(page, "imp-card-history-en-320");
    await page.close();
  });

  it("en: the form says whether the customer is mailed, as the admin's setting has it", async () => {
    const { page, frame } = await ui.openTicket(1011, "9002", "en-US");
    await frame.waitForSelector('[data-testid="imp-notice"]');
    expect(await text(frame, '[data-testid="imp-notice"]')).toBe("The customer is told by email when you start and when you end.");
    await page.close();
    const { deps } = ui.steward;
    await setCustomerNotices(deps.database.db, deps.clock, { actor: systemActor("test"), on: false, reason: "Notices go out from the product itself" });
    try {
      const off = await ui.openTicket(1011, "9002", "en-US");
      await off.frame.waitForSelector('[data-testid="imp-notice"]');
      expect(await text(off.frame, '[data-testid="imp-notice"]')).toBe("The customer is not told by email: customer notices are turned off.");
      await off.page.close();
    } finally {
      await setCustomerNotices(deps.database.db, deps.clock, { actor: systemActor("test"), on: true, reason: "Back to the default" });
    }
  });
});
