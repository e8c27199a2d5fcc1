import type { Frame } from "playwright-core";
import { describe, expect, it } from "vitest";
import { axeViolations } from "./support/axe.js";
import { screenshot } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";

/**
 * Words and numbers in the customer cards, at Zendesk's 320 px, in English and German: a credit
 * balance is said as a credit (a positive amount under "Credit"), never as a negative balance; counts
 * take their language's plural; nothing billed during a trial is said in words, not as "$0.00".
 * Real server (PGlite, demo data), the local Zendesk page.
 */
const ui = sidebar320();
const said = async (frame: Frame, selector: string) => ((await frame.textContent(selector)) ?? "").replace(/\s+/g, " ").trim();

describe.each([
  { locale: "en-US", ticket: 1006, credit: "Credit", users: (n: number) => `${n} ${n === 1 ? "user" : "users"}`, trial: "nothing billed during the trial" },
  { locale: "de", ticket: 1003, credit: "Guthaben", users: (n: number) => `${n} Benutzer`, trial: "während der Testphase nichts berechnet" },
])("words and numbers ($locale, 320 px)", ({ locale, ticket, credit, users, trial }) => {
  it("says a credit balance as a credit, and counts users with the language's plural", async () => {
    const db = ui.steward.deps.database.db;
    const requester = await ui.requesterOf(ticket);
    await db.updateTable("billing_customers").set({ balance_cents: -2_500 }).where("account_id", "=", requester.account_id).execute();
    const count = Number((await db.selectFrom("users").select((eb) => eb.fn.countAll().as("n")).where("account_id", "=", requester.account_id).executeTakeFirstOrThrow()).n);

    const { page, frame } = await ui.openTicket(ticket, "9002", locale);
    const customer = await db.selectFrom("billing_customers").select("currency").where("account_id", "=", requester.account_id).executeTakeFirstOrThrow();
    const amount = new Intl.NumberFormat(locale, { style: "currency", currency: customer.currency.toUpperCase() }).format(25);
    expect(await said(frame, '[data-testid="billing"] [data-fact="credit"] dt')).toBe(credit);
    expect(await said(frame, '[data-testid="billing"] [data-fact="credit"] dd')).toBe(amount.replace(/\s+/g, " "));
    expect(await frame.$('[data-testid="billing"] [data-fact="balance"]')).toBeNull();
    expect(await said(frame, '[data-testid="billing"]')).not.toMatch(/[-−]\s?\$|[-−]\d/);
    expect(await said(frame, '[data-testid="account"] [data-fact="users"] dd')).toMatch(new RegExp(`^${users(count)}, `));
    expect(await axeViolations(frame), `credit-${locale}-320`).toEqual([]);
    await screenshot(page, `words-credit-${locale}-320`);
    await page.close();
  });

  it("says nothing billed during a trial in words", async () => {
    const { page, frame } = await ui.openTicket(1002, "9002", locale);
    expect(await said(frame, '[data-testid="billing"] [data-fact="mrr"] dd')).toBe(trial);
    await page.close();
  });
});
