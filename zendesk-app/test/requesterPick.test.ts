import type { Frame } from "playwright-core";
import { describe, expect, it } from "vitest";
import { axeViolations } from "./support/axe.js";
import { screenshot } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";

/**
 * The requester pick kept on the server per ticket, at Zendesk's 320 px, in English and German: one
 * agent picks another user for the ticket; the pick survives switching tickets and reloading, reaches
 * a colleague who opens the ticket, and says who picked it; "Use the ticket requester again" forgets it.
 */
const ui = sidebar320();
const userText = async (frame: Frame) => (await frame.textContent('[data-testid="user"]')) ?? "";

describe.each([
  { locale: "en-US", banner: /^Picked for this ticket by Sam Support on .+\.$/, usersOf: "Users of", kindWord: "Account" },
  { locale: "de", banner: /^Für dieses Ticket ausgewählt von Sam Support am .+\.$/, usersOf: "Benutzer von", kindWord: "Konto" },
])("requester pick ($locale, 320 px)", ({ locale, banner, usersOf, kindWord }) => {
  it("finds the account by its id, domain or billing customer id, and picks one of its users", async () => {
    const db = ui.steward.deps.database.db;
    await db.deleteFrom("ticket_requester_picks").execute();
    const account = await db.selectFrom("accounts").select(["id", "name", "domain", "billing_customer_id"]).where("id", "=", "acc_demo_008").executeTakeFirstOrThrow();
    const members = (await db.selectFrom("users").select("id").where("account_id", "=", account.id).where("status", "!=", "deleted").execute()).map((u) => u.id);
    expect(members).toContain("usr_demo_shared_2");
    const { page, frame } = await ui.openTicket(1010, "9002", locale);
    await frame.click('[data-testid="user"] .link-btn');
    const accountButton = `[data-testid="search-hits"] [data-testid="open-account"][data-account-id="${account.id}"]`;
    for (const q of [account.id, account.domain as string, account.billing_customer_id as string]) {
      // This query's own answer, not the button the previous one left.
      const answered = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/search" && new URL(r.url()).searchParams.get("q") === q);
      await frame.fill("#picker-q", q);
      const { hits } = (await (await answered).json()) as { hits: { kind: string; id: string }[] };
      expect(hits.filter((h) => h.kind === "account").map((h) => h.id), q).toContain(account.id);
      await frame.waitForSelector(accountButton);
      expect(await frame.textContent(accountButton), q).toContain(kindWord);
    }
    await frame.click(accountButton);
    await frame.waitForSelector(`[data-testid="account-users"][data-account-id="${account.id}"]`);
    expect(((await frame.textContent('[data-testid="account-users"] h3')) ?? "").trim()).toBe(`${usersOf} ${account.name}`);
    // Focus follows: the list's heading, so a keyboard or screen-reader user lands on the users.
    expect(await frame.evaluate(() => document.activeElement?.tagName)).toBe("H3");
    const listed = await frame.$$eval('[data-testid="account-users"] [data-testid="pick-user"]', (bs) => bs.map((b) => b.getAttribute("data-user-id") ?? ""));
    expect(listed.length).toBe(Math.min(members.length, 50));
    expect(listed.every((id) => members.includes(id)), listed.join(" ")).toBe(true);
    expect(await axeViolations(frame), `account-users-${locale}`).toEqual([]);
    await screenshot(page, `picker-account-users-${locale}-320`);

    await frame.click('[data-testid="account-users"] [data-user-id="usr_demo_shared_2"]');
    await frame.waitForSelector('[data-testid="picked-by"]');
    expect(await userText(frame)).toContain("usr_demo_shared_2");
    expect(await db.selectFrom("ticket_requester_picks").select(["ticket_id", "user_id"]).execute()).toEqual([{ ticket_id: "1010", user_id: "usr_demo_shared_2" }]);
    // Opening the account was a lookup on this ticket: audited as account.view.
    const views = await db.selectFrom("audit_log").select(["target_id", "ticket_id"]).where("action", "=", "account.view").where("target_id", "=", account.id).where("ticket_id", "=", "1010").execute();
    expect(views.length).toBeGreaterThan(0);
    await page.close();
  });

  it("is kept per ticket on the server, shown with who picked it, for every agent, until forgotten", async () => {
    await ui.steward.deps.database.db.deleteFrom("ticket_requester_picks").execute();
    const { page, frame } = await ui.openTicket(1010, "9002", locale);
    expect(await userText(frame)).toContain("usr_demo_shared_1");
    expect(await frame.$('[data-testid="picked-by"]')).toBeNull();
    await frame.click('[data-testid="user"] .link-btn');
    await frame.fill("#picker-q", "casey.consultant");
    await frame.click('[data-testid="search-hits"] [data-user-id="usr_demo_shared_2"]');
    await frame.waitForSelector('[data-testid="picked-by"]');
    expect(await userText(frame)).toContain("usr_demo_shared_2");
    expect(((await frame.textContent('[data-testid="picked-by"]')) ?? "").trim()).toMatch(banner);
    expect(await axeViolations(frame), `picked-${locale}`).toEqual([]);
    await screenshot(page, `picked-${locale}-320`);
    await page.close();

    // Another ticket, then back: the pick is still there (third-party storage plays no part).
    const other = await ui.openTicket(1001, "9002", locale);
    await other.page.close();
    const back = await ui.openTicket(1010, "9002", locale);
    await back.frame.waitForSelector('[data-testid="picked-by"]');
    expect(await userText(back.frame)).toContain("usr_demo_shared_2");
    await back.page.close();

    // A colleague opening the ticket sees the same user, and who picked it.
    const colleague = await ui.openTicket(1010, "9003", locale);
    await colleague.frame.waitForSelector('[data-testid="picked-by"]');
    expect(await userText(colleague.frame)).toContain("usr_demo_shared_2");
    expect(((await colleague.frame.textContent('[data-testid="picked-by"]')) ?? "").trim()).toMatch(banner);
    const rows = await ui.steward.deps.database.db.selectFrom("ticket_requester_picks").select(["ticket_id", "user_id", "picked_by_staff_id"]).execute();
    expect(rows).toEqual([{ ticket_id: "1010", user_id: "usr_demo_shared_2", picked_by_staff_id: "stf_demo_full" }]);
    // Forgotten: back to the ticket's requester for everyone.
    await colleague.frame.click('[data-testid="customer"] > button.c-btn--basic:last-child');
    await colleague.frame.waitForSelector('[data-testid="picked-by"]', { state: "detached" });
    await colleague.frame.waitForFunction(() => document.querySelector('[data-testid="user"]')?.textContent?.includes("usr_demo_shared_1"));
    expect(await ui.steward.deps.database.db.selectFrom("ticket_requester_picks").selectAll().execute()).toEqual([]);
    await colleague.page.close();
  });
});
