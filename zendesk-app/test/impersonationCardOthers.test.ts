import type { Frame } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { systemActor } from "../../server/src/actor.js";
import { registerProduct } from "../../server/src/impersonation/products.js";
import { axeViolations } from "./support/axe.js";
import { screenshot } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";
import { startFrom } from "./support/impersonation.js";

/**
 * The View as customer card and other agents' sessions on the same customer, at Zendesk's 320 px: those
 * started from other tickets are listed (agent, ticket, mode, end); operations end another agent's
 * session by keyboard, with a reason and a confirmation, and the other agent's sidebar sees it end;
 * support is shown the sessions but offered no control to end them.
 * Real server (PGlite, demo data), real ZAF SDK, the local Zendesk page; the product is not running.
 */
const ui = sidebar320();
const text = async (frame: Frame, selector: string) => ((await frame.textContent(selector)) ?? "").trim().replace(/\s+/g, " ");
const focused = (frame: Frame) => frame.evaluate(() => document.activeElement?.getAttribute("data-testid") ?? document.activeElement?.id ?? null);

/** A second ticket raised by the same customer as `ticketId` (a customer often has several open). */
async function sameRequester(ticketId: number, newId: number): Promise<void> {
  const db = ui.steward.deps.database.db;
  const { id: _id, subject, ...requester } = await db.selectFrom("demo_tickets").selectAll().where("id", "=", ticketId).executeTakeFirstOrThrow();
  await db.insertInto("demo_tickets").values({ ...requester, id: newId, subject: `${subject} (follow-up)` }).execute();
}


beforeAll(async () => {
  await registerProduct(ui.steward.deps.database.db, ui.steward.deps.clock, { id: "prd_others", name: "Others product", url: "http://localhost:9", actor: systemActor("test") });
  await sameRequester(1002, 1092);
  await sameRequester(1003, 1093);
});

describe("View as customer card: other agents' sessions (320 px)", () => {
  it("en: operations see a session from another ticket and end it by keyboard, with a reason and a confirmation; the agent's sidebar sees it end", async () => {
    const support = await ui.openTicket(1092, "9002", "en-US");
    const sid = await startFrom(support.page, support.frame, "Customer says the trial banner is wrong");

    const { page, frame } = await ui.openTicket(1002, "9003", "en-US");
    const row = `[data-testid="imp-elsewhere"] li[data-sid="${sid}"]`;
    await frame.waitForSelector(row);
    expect(await text(frame, `${row} [data-testid="imp-elsewhere-row"]`)).toMatch(/^Sam Support · ticket #1092 · Read-only · ends \d{1,2}:\d{2}( [AP]M)?$/);
    // The button names the agent whose session it ends (several can be listed).
    const endButton = frame.getByRole("button", { name: "End Sam Support's session" });
    expect(await endButton.count()).toBe(1);
    expect(await axeViolations(frame), "imp-elsewhere-ops-en-320").toEqual([]);

    // Opened by keyboard: the reason field takes focus; Escape backs out, focus back on the button, nothing ended.
    await endButton.focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => focused(frame)).toBe(`imp-end-reason-${sid}`);
    expect(await text(frame, `[data-testid="imp-end-other-form"][data-sid="${sid}"] p`)).toBe("This ends Sam Support's session (ticket #1092) now; their product tab follows within seconds.");
    await page.keyboard.press("Escape");
    await expect.poll(() => focused(frame)).toBe("imp-end-other");
    expect(await frame.$('[data-testid="imp-end-other-form"]')).toBeNull();

    // A reason is required: confirming without one ends nothing.
    await page.keyboard.press("Enter");
    await frame.click('[data-testid="imp-end-other-confirm"]');
    expect(await frame.$eval(`#imp-end-reason-${sid}`, (el) => (el as HTMLTextAreaElement).validity.valueMissing)).toBe(true);
    const db = ui.steward.deps.database.db;
    expect((await db.selectFrom("impersonation_sessions").select("ended_at").where("id", "=", sid).executeTakeFirstOrThrow()).ended_at).toBeNull();
    expect(await axeViolations(frame), "imp-end-other-form-en-320").toEqual([]);
    await screenshot(page, "imp-card-end-other-form-en-320");

    await frame.fill(`#imp-end-reason-${sid}`, "Customer asked that nobody looks at the account today");
    await frame.focus('[data-testid="imp-end-other-confirm"]');
    await page.keyboard.press("Enter");
    await frame.waitForSelector('[data-testid="imp-ended-other"]');
    expect(await text(frame, '[data-testid="imp-ended-other"]')).toBe("Sam Support's session (ticket #1092) has ended; their product tab follows within seconds.");
    await expect.poll(() => focused(frame)).toBe("imp-ended-other");
    await frame.waitForSelector('[data-testid="imp-elsewhere"]', { state: "detached" });
    await screenshot(page, "imp-card-ended-other-en-320");

    // Revoked, on the record with the reason and the ticket it was done from.
    const ended = await db.selectFrom("impersonation_sessions").select(["end_reason", "ended_by"]).where("id", "=", sid).executeTakeFirstOrThrow();
    expect(ended).toEqual({ end_reason: "admin_revoked", ended_by: "stf_demo_ops" });
    const entry = await db.selectFrom("audit_log").select(["outcome", "reason", "ticket_id", "actor_staff_id"]).where("action", "=", "impersonation.stop").where("target_id", "=", (await ui.requesterOf(1002)).id).orderBy("seq", "desc").executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ outcome: "succeeded", reason: "Customer asked that nobody looks at the account today", ticket_id: "1002", actor_staff_id: "stf_demo_ops" });

    // Sam's sidebar sees the session gone (its poll) and offers the form again.
    await support.frame.waitForSelector('[data-testid="imp-form"]', { timeout: 15_000 });
    await support.page.close();
    await page.close();
  });

  it("en/de: support see sessions from this and other tickets, with no control to end them", async () => {
    const ops = await ui.openTicket(1093, "9003", "en-US");
    const opsSid = await startFrom(ops.page, ops.frame, "Checking the past-due banner the customer sees");
    const admin = await ui.openTicket(1003, "9004", "en-US");
    const adminSid = await startFrom(admin.page, admin.frame, "Checking the invoice page the customer sees");

    const { page, frame } = await ui.openTicket(1003, "9002", "en-US");
    await frame.waitForSelector(`[data-testid="imp-elsewhere"] li[data-sid="${opsSid}"]`);
    expect(await text(frame, `[data-testid="imp-elsewhere"] li[data-sid="${opsSid}"]`)).toMatch(/^Olive Ops · ticket #1093 · Read-only · ends .+$/);
    expect(await text(frame, `.imp-other[data-sid="${adminSid}"] [data-testid="imp-other-live"]`)).toMatch(/^Ada Admin is viewing this customer from this ticket now/);
    expect(await frame.$$('[data-testid="imp-end-other"]')).toHaveLength(0);
    expect(await axeViolations(frame), "imp-elsewhere-support-en-320").toEqual([]);
    await screenshot(page, "imp-card-elsewhere-support-en-320");
    await page.close();

    const de = await ui.openTicket(1003, "9002", "de");
    await de.frame.waitForSelector(`[data-testid="imp-elsewhere"] li[data-sid="${opsSid}"]`);
    expect(await text(de.frame, "#imp-elsewhere-title")).toBe("Sehen diesen Kunden gerade über andere Tickets an");
    expect(await text(de.frame, `[data-testid="imp-elsewhere"] li[data-sid="${opsSid}"]`)).toMatch(/^Olive Ops · Ticket #1093 · Nur lesen · endet .+$/);
    expect(await de.frame.$$('[data-testid="imp-end-other"]')).toHaveLength(0);
    await de.page.close();

    // Admin, on the same ticket, may end the other ticket's session: the control is there, named in German too.
    const adminDe = await ui.openTicket(1003, "9004", "de");
    await adminDe.frame.waitForSelector(`[data-testid="imp-elsewhere"] li[data-sid="${opsSid}"] [data-testid="imp-end-other"]`);
    expect(await text(adminDe.frame, `[data-testid="imp-elsewhere"] li[data-sid="${opsSid}"] [data-testid="imp-end-other"]`)).toBe("Sitzung von Olive Ops beenden");
    await adminDe.page.close();

    // Olive, on the first ticket, sees her own session from the follow-up as hers, on this customer (not "another customer").
    const opsHere = await ui.openTicket(1003, "9003", "en-US");
    await opsHere.frame.waitForSelector(`[data-testid="imp-live"][data-sid="${opsSid}"]`);
    expect(await text(opsHere.frame, '[data-testid="imp-live-elsewhere"]')).toBe("You are viewing this customer from ticket #1093; the session below is that one.");
    expect(await opsHere.frame.$(`[data-testid="imp-elsewhere"] li[data-sid="${opsSid}"]`)).toBeNull();
    await opsHere.page.close();

    for (const { frame: f, page: p } of [ops, admin]) {
      await f.click('[data-testid="imp-end"]');
      await f.waitForSelector('[data-testid="imp-form"]');
      await p.close();
    }
  });
});
