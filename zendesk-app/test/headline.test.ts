import type { Frame } from "playwright-core";
import { describe, expect, it } from "vitest";
import { axeViolations } from "./support/axe.js";
import { screenshot } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";

/**
 * The headline at the top of the sidebar, at Zendesk's 320 px, in English and German: one line that
 * answers the ticket's question with the actions that fit it, the full list one click away, grouped.
 * Real server (PGlite, demo data), real ZAF SDK, the local Zendesk page.
 */
const ui = sidebar320();
const openTicket = (ticketId: number, agent: string, locale: string, requesterLocale = "en-US") => ui.openTicket(ticketId, agent, locale, { requesterLocale });
const requesterOf = (ticketId: number) => ui.requesterOf(ticketId);

const text = async (frame: Frame, selector: string) => (await frame.textContent(selector)) ?? "";

describe.each([
  { locale: "en-US", lockedText: /^Locked after 7 failed sign-ins · unlocks by itself at (\w{3} \d+, \d{4}, )?\d{1,2}:\d\d\s?[AP]M$/, all: "All actions", ticket: 1001, requesterLocale: "de", reply: /^Hallo \S+, Ihr Konto war nach zu vielen Anmeldeversuchen ausgesperrt/, replyTitle: "Suggested reply (German)", sameEmail: "This email also belongs to 1 user in another workspace", suspendTicket: 1006, suspended: "Suspended by Olive Ops on", trial: /^Trial ends in \d+ days \(/ },
  { locale: "de", lockedText: /^Ausgesperrt nach 7 fehlgeschlagenen Anmeldungen · entsperrt sich selbst um (\d\d\.\d\d\.\d{4}, )?\d\d:\d\d$/, all: "Alle Aktionen", ticket: 1008, requesterLocale: "en-GB", reply: /^Hi \S+, your account was locked after too many sign-in attempts/, replyTitle: "Vorgeschlagene Antwort (Englisch)", sameEmail: "Diese E-Mail gehört auch 1 Benutzer in einem anderen Workspace", suspendTicket: 1003, suspended: "Suspendiert von Olive Ops am", trial: /^Testphase endet in \d+ Tagen \(/ },
])("the headline ($locale, 320 px)", ({ locale, lockedText, all, ticket, requesterLocale, reply, replyTitle, sameEmail, suspendTicket, suspended, trial }) => {
  it("says a locked-out user unlocks by itself and when, clears the lockout from the headline in two clicks, and suggests a reply in the ticket's language", async () => {
    // The lockout as Auth0-style brute-force protection leaves it: 7 failures, released in 44 minutes.
    const user = await requesterOf(ticket);
    const until = new Date(Date.now() + 44 * 60_000); // said as a time today, with its date past midnight
    await ui.steward.deps.database.db.updateTable("users").set({ locked_until: until, failed_login_count: 7 }).where("id", "=", user.id).execute();

    const { page, frame } = await openTicket(ticket, "9002", locale, requesterLocale);
    expect(await frame.getAttribute('[data-testid="actions"]', "data-headline")).toBe("locked");
    expect((await text(frame, '[data-testid="headline"]')).trim()).toMatch(lockedText);
    // The fitting action is at the top; the other actions are one click away and not shown yet.
    expect(await frame.$$eval('[data-testid="headline-actions"] button[data-action]', (bs) => bs.map((b) => b.getAttribute("data-action")))).toEqual(["user.lockout_clear"]);
    expect(await frame.getAttribute('[data-testid="all-actions"]', "aria-expanded")).toBe("false");
    expect(await text(frame, '[data-testid="all-actions"]')).toContain(all);
    expect(await frame.$('[data-testid="all-actions-list"]')).toBeNull();
    // Activity by the account's other users names them (not their ids).
    const others = await frame.$$eval('[data-testid="activity"] [data-user-id]', (spans) => spans.map((s) => ({ id: s.getAttribute("data-user-id") as string, shown: (s.textContent ?? "").replace(/^ · /, "") })));
    expect(others.length).toBeGreaterThan(0);
    const names = await ui.steward.deps.database.db.selectFrom("users").select(["id", "name"]).where("id", "in", others.map((o) => o.id)).execute();
    for (const other of others) expect(other.shown).toBe(names.find((n) => n.id === other.id)?.name);
    expect(await axeViolations(frame), `headline-locked-${locale}-320`).toEqual([]);
    await screenshot(page, `headline-locked-${locale}-320`);

    await frame.click('[data-testid="headline-actions"] button[data-action="user.lockout_clear"]');
    // What it does is shown as the form opens, above Run, in the agent's words: no Preview step, no extra click.
    // Its date and its time of day apart, each with its own word ("on Nov 28, 2026 at 7:46 AM"), not "at Nov 28, 2026, 7:46 AM".
    const day = new Intl.DateTimeFormat(locale, { dateStyle: "medium" }).format(until);
    const clock = new Intl.DateTimeFormat(locale, { timeStyle: "short" }).format(until);
    await frame.waitForSelector('[data-testid="action-form"] [data-testid="preview"]');
    const effect = ((await text(frame, '[data-testid="action-form"] [data-testid="preview"] strong')) ?? "").replace(/\s+/g, " ").trim();
    expect(effect).toBe((locale === "de" ? `${user.name} <${user.email}> kann sich sofort wieder anmelden; die Sperre hätte sich am ${day} um ${clock} von selbst gelöst` : `${user.name} <${user.email}> can sign in again now; the lock would have lifted by itself on ${day} at ${clock}`).replace(/\s+/g, " "));
    expect(await frame.$('[data-testid="action-form"] [data-testid="confirm-action"]')).toBeNull();
    expect(await axeViolations(frame), `headline-unlock-preview-${locale}-320`).toEqual([]);
    await screenshot(page, `headline-unlock-preview-${locale}-320`);
    await frame.fill('[data-testid="action-form"] textarea[name="reason"]', "Verified by reply from the requester's address");
    await frame.click('[data-testid="submit-action"]');
    await frame.waitForSelector('[data-testid="action-result"]');
    // The headline moves on to what is true now (whatever else there is to say about this requester).
    await frame.waitForSelector('[data-testid="actions"]:not([data-headline="locked"])');
    expect(await frame.$('[data-testid="user"] [data-badge="locked"]')).toBeNull();
    const after = await ui.steward.deps.database.db.selectFrom("users").select("locked_until").where("id", "=", user.id).executeTakeFirstOrThrow();
    expect(after.locked_until).toBeNull();
    // The reply is in the requester's language, whatever the agent's; inserting it lands in Zendesk's composer.
    const suggested = await frame.waitForSelector('[data-testid="suggested-reply"]');
    expect(await frame.textContent('[data-testid="suggested-reply"] h3')).toBe(replyTitle);
    const replyText = ((await frame.textContent('[data-testid="suggested-reply"] .reply-text')) ?? "").trim();
    expect(replyText).toMatch(reply);
    expect(await page.inputValue("#composer")).toBe("");
    await (await suggested.$('[data-testid="insert-reply"]'))?.click();
    await page.waitForFunction(() => (document.getElementById("composer") as HTMLTextAreaElement).value !== "");
    expect(await page.inputValue("#composer")).toBe(replyText);
    await frame.waitForSelector('[data-testid="insert-reply"][disabled]');
    expect(await axeViolations(frame), `headline-lockout-cleared-${locale}-320`).toEqual([]);
    await screenshot(page, `headline-lockout-cleared-${locale}-320`);
    await page.close();
  });

  it("lists every action one click away, grouped, and after a suspension says who suspended, when, for which ticket and why", async () => {
    const { page, frame } = await openTicket(suspendTicket, "9003", locale);
    await frame.click('[data-testid="all-actions"]');
    expect(await frame.getAttribute('[data-testid="all-actions"]', "aria-expanded")).toBe("true");
    const groups = await frame.$$eval('[data-testid="all-actions-list"] [data-group]', (gs) => gs.map((g) => g.getAttribute("data-group")));
    expect(groups).toEqual(["auth", "status", "roles", "seats", "billing"].filter((g) => groups.includes(g)));
    expect(groups).toEqual(expect.arrayContaining(["auth", "status", "billing"]));
    // Each action sits in its group.
    expect(await frame.$('[data-group="auth"] button[data-action="user.password_reset"]')).not.toBeNull();
    expect(await frame.$('[data-group="status"] button[data-action="account.suspend"]')).not.toBeNull();
    expect(await axeViolations(frame), `headline-all-actions-${locale}-320`).toEqual([]);
    await screenshot(page, `headline-all-actions-${locale}-320`);

    await frame.click('[data-group="status"] button[data-action="account.suspend"]');
    await frame.fill('[data-testid="action-form"] textarea[name="reason"]', "chargeback");
    await frame.click('[data-testid="submit-action"]');
    await frame.waitForSelector('[data-testid="preview"]');
    await frame.click('[data-testid="confirm-action"]');
    await frame.waitForSelector('[data-testid="actions"][data-headline="account-suspended"]');
    const line = (await text(frame, '[data-testid="headline"]')).trim();
    expect(line).toContain(suspended);
    expect(line).toContain(`#${suspendTicket}`);
    expect(line).toMatch(/[“„]chargeback[”“]$/);
    // The one action that fits now is lifting it.
    expect(await frame.$$eval('[data-testid="headline-actions"] button[data-action]', (bs) => bs.map((b) => b.getAttribute("data-action")))).toEqual(["account.unsuspend"]);
    expect(await axeViolations(frame), `headline-suspended-by-${locale}-320`).toEqual([]);
    await screenshot(page, `headline-suspended-by-${locale}-320`);
    await page.close();
  });

  it("says how many days of trial are left, with Extend trial beside it", async () => {
    const { page, frame } = await openTicket(1002, "9002", locale);
    expect(await frame.getAttribute('[data-testid="actions"]', "data-headline")).toBe("trial");
    expect((await text(frame, '[data-testid="headline"]')).trim()).toMatch(trial);
    expect(await frame.$$eval('[data-testid="headline-actions"] button[data-action]', (bs) => bs.map((b) => b.getAttribute("data-action")))).toEqual(["billing.trial_extend"]);
    expect(await axeViolations(frame), `headline-trial-${locale}-320`).toEqual([]);
    await screenshot(page, `headline-trial-${locale}-320`);
    await page.close();
  });

  it("warns when the requester's email also belongs to a user in another workspace, and offers that user", async () => {
    const db = ui.steward.deps.database.db;
    const other = await db.selectFrom("users").innerJoin("accounts", "accounts.id", "users.account_id").select(["users.id", "accounts.name"]).where("users.id", "=", "usr_demo_shared_2").executeTakeFirstOrThrow();
    const { page, frame } = await openTicket(1010, "9002", locale); // the ticket names usr_demo_shared_1 by external id
    const warning = await frame.waitForSelector('[data-testid="same-email"]');
    expect(await warning.textContent()).toContain(other.name);
    expect(await warning.textContent()).toContain(sameEmail);
    expect(await axeViolations(frame), `same-email-${locale}-320`).toEqual([]);
    await screenshot(page, `same-email-${locale}-320`);
    await frame.click('[data-testid="same-email"] button');
    await frame.waitForSelector(`[data-testid="candidates"] [data-user-id="${other.id}"]`);
    await page.close();
  });
});
