import type { Frame } from "playwright-core";
import { describe, expect, it } from "vitest";
import { AFTER_FIRST_PAINT, chunkName } from "../../scripts/bundle-budget.js";
import type { ActionPreviewResponse } from "../../shared/schemas/actions.js";
import { axeViolations } from "./support/axe.js";
import { screenshot } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";

/**
 * Impact previews word their summary and warnings in the agent's language from the server's codes and
 * values (EffectPhrase): money and dates with Intl in the agent's locale, no ISO dates, no English
 * left in German. Real server (PGlite, demo data), the local Zendesk page, Zendesk's 320 px.
 */
const ui = sidebar320();
const ISO_DATE = /\d{4}-\d\d-\d\d/;
const text = async (frame: Frame, selector: string) => ((await frame.textContent(selector)) ?? "").replace(/\s+/g, " ").trim();

describe.each([
  { locale: "en-US", ticket: 1006, summary: /^Suspend .+: \d+ users? cannot sign in until the suspension is lifted; billing continues$/, continues: "Billing continues: the next invoice of" },
  { locale: "de", ticket: 1003, summary: /^.+ suspendieren: \d+ Benutzer (kann|können) sich bis zur Aufhebung nicht anmelden; die Abrechnung läuft weiter$/, continues: "Die Abrechnung läuft weiter: die nächste Rechnung über" },
])("impact previews ($locale, 320 px)", ({ locale, ticket, summary, continues }) => {
  const loaded = async (frame: Frame) => (await frame.evaluate(() => performance.getEntriesByType("resource").map((e) => e.name))).filter((url) => url.includes("/assets/")).map((url) => url.replace(/.*\/assets\//, ""));
  /** The strings chunks among them, as part-language ("core-de"). */
  const strings = (files: string[]) => files.filter((f) => f.startsWith("strings-")).map((f) => f.replace(/^strings-(core|more)-([a-z]+)-.*$/, "$1-$2")).sort();

  it("loads the agent's language only, and the forms with their strings only once an action is opened", async () => {
    const lang = locale.slice(0, 2);
    const { page, frame } = await ui.openTicket(ticket, "9003", locale);
    const first = await loaded(frame);
    // The first view: one language's first-view strings, the agent's; no form code, no form strings.
    expect(strings(first), first.join(" ")).toEqual([`core-${lang}`]);
    expect(first.some((f) => f.startsWith("ActionForm-")), first.join(" ")).toBe(false);
    expect(await frame.getAttribute('[data-testid="actions"]', "data-forms")).toBe("on-demand");
    // What every ticket view fetches after its first paint is what npm run budget reports as such: all
    // of it arrives, and nothing else beyond the first view's own files.
    const firstView = (await frame.evaluate(() => [...document.querySelectorAll<HTMLScriptElement | HTMLLinkElement>("script[src], link[href]")].map((e) => ("src" in e && e.src) || (e as HTMLLinkElement).href))).map((u) => chunkName(u.replace(/.*\/assets\//, "")));
    await expect.poll(async () => (await loaded(frame)).map(chunkName).filter((n) => (AFTER_FIRST_PAINT as readonly string[]).includes(n)).sort()).toEqual([...AFTER_FIRST_PAINT].sort());
    const settled = (await loaded(frame)).map(chunkName);
    expect(settled.filter((n) => !firstView.includes(n) && !(AFTER_FIRST_PAINT as readonly string[]).includes(n) && n !== `strings-core-${lang}`), settled.join(" ")).toEqual([]);

    await frame.click('[data-testid="all-actions"]');
    await frame.click('[data-group="status"] button[data-action="account.suspend"]');
    await frame.waitForSelector('[data-testid="action-form"] textarea[name="reason"]');
    const after = await loaded(frame);
    expect(after.some((f) => f.startsWith("ActionForm-"))).toBe(true);
    expect(strings(after), after.join(" ")).toEqual([`core-${lang}`, `more-${lang}`]);
    // Its labels come from the on-demand strings, in the agent's language.
    expect(await frame.$$eval('[data-testid="action-form"] label', (ls) => ls.map((l) => l.textContent ?? "").join("|"))).toContain(locale === "de" ? "Grund" : "Reason");
    await page.close();
  });

  it("shows a suspension's summary and its next invoice in the agent's language, money and date by Intl", async () => {
    const { page, frame } = await ui.openTicket(ticket, "9003", locale);
    await frame.click('[data-testid="all-actions"]');
    await frame.click('[data-group="status"] button[data-action="account.suspend"]');
    await frame.fill('[data-testid="action-form"] textarea[name="reason"]', "chargeback");
    const response = page.waitForResponse((r) => r.url().includes("/api/actions/account.suspend/preview"));
    await frame.click('[data-testid="submit-action"]');
    const { effects } = (await (await response).json()) as ActionPreviewResponse;
    await frame.waitForSelector('[data-testid="preview"]');

    expect(effects.summaryPhrase.code).toBe("account_suspend");
    const shown = await text(frame, '[data-testid="preview"] p strong');
    expect(shown).toMatch(summary);
    expect(shown).toContain(String(effects.summaryPhrase.params.name));
    // The next invoice the server states, worded here: the agent's money and date formats, not the server's English.
    const invoice = effects.warningPhrases.find((p) => p.code === "billing_continues_invoice");
    expect(invoice, JSON.stringify(effects.warningPhrases)).toBeDefined();
    const amount = new Intl.NumberFormat(locale, { style: "currency", currency: effects.currency.toUpperCase() }).format(Number(invoice!.params.amountCents) / 100);
    const due = new Intl.DateTimeFormat(locale, { dateStyle: "medium" }).format(new Date(String(invoice!.params.dueDate)));
    const warnings = await frame.$$eval('[data-testid="preview"] li.warning', (lis) => lis.map((li) => (li.textContent ?? "").replace(/\s+/g, " ").trim()));
    const said = `${continues} ${amount} ${locale === "de" ? `ist weiterhin am ${due} fällig` : `is still due on ${due}`}`;
    expect(warnings).toContain(said.replace(/\s+/g, " "));
    if (locale === "de") {
      expect(amount).toMatch(/^[\d.]+,\d\d\s\$$/u); // German money: "1.450,00 $"
      expect(warnings.join(" ")).not.toMatch(/Billing|invoice/);
    }
    expect(await text(frame, '[data-testid="preview"]')).not.toMatch(ISO_DATE);
    expect(await axeViolations(frame), `preview-${locale}`).toEqual([]);
    await screenshot(page, `preview-suspend-${locale}-320`);
    await page.close();
  });

  it("shows a credit before it is applied: the credit after it and the lower next invoice, in the agent's language", async () => {
    const { page, frame } = await ui.openTicket(ticket, "9003", locale);
    await frame.click('[data-testid="all-actions"]');
    await frame.click('[data-group="billing"] button[data-action="billing.credit_apply"]');
    await frame.fill('[data-testid="action-form"] input[name="amountCents"]', "25.00");
    await frame.fill('[data-testid="action-form"] textarea[name="reason"]', "Goodwill for the outage");
    const response = page.waitForResponse((r) => r.url().includes("/api/actions/billing.credit_apply/preview"));
    await frame.click('[data-testid="submit-action"]');
    const { effects } = (await (await response).json()) as ActionPreviewResponse;
    await frame.waitForSelector('[data-testid="preview"]');
    const money = (cents: number) => new Intl.NumberFormat(locale, { style: "currency", currency: effects.currency.toUpperCase() }).format(cents / 100);
    const { params } = effects.summaryPhrase;
    const name = String(params.name);
    const expected =
      effects.summaryPhrase.code === "credit_apply"
        ? locale === "de"
          ? `Gutschrift über ${money(2_500)} für ${name}: danach ${money(Number(params.creditCents))} Guthaben, das mit den nächsten Rechnungen verrechnet wird`
          : `Credit ${money(2_500)} to ${name}: ${money(Number(params.creditCents))} in credit after it, taken off the next invoices`
        : locale === "de"
          ? `Gutschrift über ${money(2_500)} für ${name}: danach sind noch ${money(Number(params.owedCents))} offen`
          : `Credit ${money(2_500)} to ${name}: ${money(Number(params.owedCents))} still owed after it`;
    expect(await text(frame, '[data-testid="preview"] p strong')).toBe(expected.replace(/\s+/g, " "));
    const items = await frame.$$eval('[data-testid="preview"] li', (lis) => lis.map((li) => (li.textContent ?? "").replace(/\s+/g, " ").trim()));
    expect(items).toContain(locale === "de" ? "Eine Gutschrift ist keine Erstattung: nichts geht auf die Karte zurück" : "A credit is not a refund: nothing goes back to the card");
    if (effects.nextInvoice) expect(items.join(" ")).toContain(money(effects.nextInvoice.amountCents).replace(/\s+/g, " "));
    expect(items.join(" ")).not.toMatch(/-\s?\$|-\d/); // a credit is never said as a negative amount
    expect(await text(frame, '[data-testid="preview"]')).not.toMatch(ISO_DATE);
    expect(await axeViolations(frame), `preview-credit-${locale}`).toEqual([]);
    await screenshot(page, `preview-credit-${locale}-320`);
    await frame.click('[data-testid="confirm-action"]');
    await frame.waitForSelector('[data-testid="action-result"]');
    await page.close();
  });
  it("shows how many sessions a sign-out everywhere ends as the form opens, then runs with one click", async () => {
    const user = await ui.requesterOf(ticket);
    const db = ui.steward.deps.database.db;
    await db.insertInto("user_sessions").values([0, 1].map((i) => ({ id: `ses_preview_${locale}_${i}`, user_id: user.id, ip: null, user_agent: null, revoked_at: null }))).execute();
    const open = await db.selectFrom("user_sessions").select("id").where("user_id", "=", user.id).where("revoked_at", "is", null).execute();
    const { page, frame } = await ui.openTicket(ticket, "9002", locale);
    await frame.click('[data-testid="all-actions"]');
    await frame.click('[data-testid="all-actions-list"] button[data-action="user.sessions_revoke"]');
    await frame.waitForSelector('[data-testid="action-form"] [data-testid="preview"]');
    const shown = await text(frame, '[data-testid="action-form"] [data-testid="preview"] strong');
    const n = new Intl.NumberFormat(locale).format(open.length);
    expect(shown).toBe(locale === "de" ? `${n} offene Sitzungen von ${user.name} <${user.email}> enden sofort; Anmelden wieder mit dem Passwort` : `${n} open sessions of ${user.name} <${user.email}> end now; they sign in again with their password`);
    expect(await text(frame, '[data-testid="submit-action"]')).toBe(locale === "de" ? "Ausführen" : "Run");
    expect(await axeViolations(frame), `preview-sessions-${locale}`).toEqual([]);
    await screenshot(page, `preview-sessions-revoke-${locale}-320`);
    await frame.fill('[data-testid="action-form"] textarea[name="reason"]', "Laptop stolen");
    await frame.click('[data-testid="submit-action"]');
    await frame.waitForSelector('[data-testid="action-result"]');
    expect(await db.selectFrom("user_sessions").select("id").where("user_id", "=", user.id).where("revoked_at", "is", null).execute()).toEqual([]);
    await page.close();
  });
  it("says why a field was refused in the agent's language: the server's code and bounds, not its English", async () => {
    const { page, frame } = await ui.openTicket(ticket, "9002", locale);
    await frame.click('[data-testid="all-actions"]');
    await frame.click('[data-testid="all-actions-list"] button[data-action="user.password_reset"]');
    await frame.waitForSelector('[data-testid="action-form"] [data-testid="preview"]');
    // Long enough for the browser's own check (minlength 3), too short once the server trims it.
    await frame.fill('[data-testid="action-form"] textarea[name="reason"]', "  ab  ");
    const response = page.waitForResponse((r) => r.url().endsWith("/api/actions/user.password_reset"));
    await frame.click('[data-testid="submit-action"]');
    const refused = await response;
    expect(refused.status()).toBe(400);
    const { errors } = (await refused.json()) as { errors: { field: string; reason: string; code?: string; params?: Record<string, unknown> }[] };
    expect(errors).toContainEqual({ field: "body.reason", reason: "say why, in at least 3 characters", code: "too_small_string", params: { minimum: 3 } });
    const said = ((await frame.textContent('[data-testid="action-form"] textarea[name="reason"] ~ .c-field__message')) ?? "").trim();
    expect(said).toBe(locale === "de" ? "Mindestens 3 Zeichen" : "At least 3 characters");
    expect(await frame.getAttribute('[data-testid="action-form"] textarea[name="reason"]', "aria-invalid")).toBe("true");
    expect(await axeViolations(frame), `field-reason-${locale}`).toEqual([]);
    await screenshot(page, `field-reason-${locale}-320`);
    await page.close();
  });
});
