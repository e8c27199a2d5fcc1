import type { Frame, Route } from "playwright-core";
import { describe, expect, it } from "vitest";
import { axeViolations } from "./support/axe.js";
import { screenshot, sidebarFrame } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";

/**
 * A slow or changing world, at 320 px in English and German: a request Steward does not answer in
 * time shows Try again, which sends the same Idempotency-Key (the action runs once); data older than
 * the stale limit is marked with Refresh; a 409 (someone changed the target) offers Refresh.
 * Timeouts are shortened through the server's own settings (SIDEBAR_REQUEST_TIMEOUT_MS, SIDEBAR_STALE_AFTER_MS).
 */
const TIMEOUT_MS = 4_000;
// Long enough that the marker never appears (shifting the layout) during the other tests' clicks.
const STALE_MS = 15_000;
const WAIT_MS = 45_000;
const ui = sidebar320({ SIDEBAR_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS), SIDEBAR_STALE_AFTER_MS: String(STALE_MS) });
const openTicket = (ticketId: number, agent: string, locale: string) => ui.openTicket(ticketId, agent, locale);
const requesterOf = (ticketId: number) => ui.requesterOf(ticketId);

const text = async (frame: Frame, selector: string) => (await frame.textContent(selector)) ?? "";

describe.each([
  { locale: "en-US", lockTicket: 1001, trialTicket: 1002, timedOut: "did not answer in time", stale: /^Loaded \d+ seconds ago/, changed: "Someone changed this since you loaded it", contextTimedOut: "Steward did not answer in time", cached: /^The product did not answer: this is Steward's copy, last updated from it on Mar 2, 2026, \d+:\d\d\s?[AP]M\.$/ },
  { locale: "de", lockTicket: 1008, trialTicket: 1002, timedOut: "nicht rechtzeitig geantwortet", stale: /^Geladen vor \d+ Sekunden/, changed: "Jemand hat das geändert, seit Sie es geladen haben", contextTimedOut: "Steward hat nicht rechtzeitig geantwortet", cached: /^Das Produkt hat nicht geantwortet: Das ist Stewards Kopie, zuletzt am 02\.03\.2026, \d\d:\d\d von dort aktualisiert\.$/ },
])("resilience ($locale, 320 px)", ({ locale, lockTicket, trialTicket, timedOut, stale, changed, contextTimedOut, cached }) => {
  it("shows Try again when Steward does not answer in time; the retry carries the same Idempotency-Key and the action runs once", async () => {
    const user = await requesterOf(lockTicket);
    const db = ui.steward.deps.database.db;
    await db.updateTable("users").set({ locked_until: new Date(Date.now() + 44 * 60_000), failed_login_count: 7 }).where("id", "=", user.id).execute();
    const { page, frame } = await openTicket(lockTicket, "9002", locale);

    // The first attempt reaches Steward and is done there, but its answer is held past the sidebar's timeout.
    const keys: string[] = [];
    let held: Promise<void> | null = null;
    await page.route("**/api/actions/user.lockout_clear", async (route: Route) => {
      keys.push(route.request().headers()["idempotency-key"] ?? "");
      if (keys.length > 1) return route.continue();
      const answer = await route.fetch();
      held = new Promise<void>((resolve) => setTimeout(resolve, TIMEOUT_MS + 2_000)).then(() => route.fulfill({ response: answer }).catch(() => undefined));
    });
    await frame.click('[data-testid="headline-actions"] button[data-action="user.lockout_clear"]');
    await frame.fill('[data-testid="action-form"] textarea[name="reason"]', "Verified by reply from the requester's address");
    await frame.click('[data-testid="submit-action"]');
    const retry = await frame.waitForSelector('[data-testid="retry-action"]');
    expect(await text(frame, '[data-testid="action-form"] [data-testid="problem"]')).toContain(timedOut);
    expect(await retry.isEnabled()).toBe(true);
    await expect.poll(() => frame.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("problem");
    expect(await axeViolations(frame), `resilience-timed-out-${locale}-320`).toEqual([]);
    await screenshot(page, `resilience-timed-out-${locale}-320`);

    await retry.click();
    await frame.waitForSelector('[data-testid="action-result"]');
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[0]).toMatch(/\S{16,}/);
    // Done once: one succeeded audit entry for this user, and the retry was answered with the first result.
    const done = await db.selectFrom("audit_log").select("id").where("action", "=", "user.lockout_clear").where("outcome", "=", "succeeded").where("target_id", "=", user.id).execute();
    expect(done).toHaveLength(1);
    // The result shows before the context is read again; the badge goes with that re-read.
    await frame.waitForSelector('[data-testid="user"] [data-badge="locked"]', { state: "detached" });
    await held;
    await page.close();
  });

  it("says in the agent's language when the customer's context does not come in time, with Try again", async () => {
    const { page } = await openTicket(trialTicket, "9002", locale);
    // From now on the sidebar's first /api/context is held past its timeout; the next one goes through.
    let seen = 0;
    await page.route((url) => url.pathname === "/api/context", async (route: Route) => {
      if (seen++ > 0) return route.continue();
      await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS + 2_000));
      await route.abort().catch(() => undefined);
    });
    await page.reload();
    await page.evaluate(() => ((document.getElementById("sidebar") as HTMLIFrameElement).style.width = "320px"));
    const frame = await sidebarFrame(page, WAIT_MS);
    const problem = await frame.waitForSelector('#panel-customer [data-testid="problem"]', { timeout: TIMEOUT_MS + WAIT_MS });
    expect(((await problem.$eval("strong", (s) => s.textContent)) ?? "").trim()).toBe(contextTimedOut);
    if (locale === "de") expect((await problem.textContent()) ?? "").not.toMatch(/Timed out|no answer/);
    expect(await axeViolations(frame), `resilience-context-timed-out-${locale}-320`).toEqual([]);
    await screenshot(page, `resilience-context-timed-out-${locale}-320`);
    // Try again (beside it) reads the context; this time it comes.
    await frame.click(`button:has-text("${locale === "de" ? "Erneut versuchen" : "Try again"}")`);
    await frame.waitForSelector('[data-testid="customer"] [data-testid="user"]');
    await page.close();
  });

  it("says when the user shown is Steward's copy because the product did not answer (asOf)", async () => {
    const { page } = await openTicket(trialTicket, "9002", locale);
    expect(await (await sidebarFrame(page, WAIT_MS)).$('[data-testid="user-cached"]')).toBeNull();
    // What the server sends with the product's directory down (server/test/directory/contextReads.test.ts): the cached user with asOf.
    await page.route((url) => url.pathname === "/api/context", async (route: Route) => {
      const response = await route.fetch();
      const body = (await response.json()) as { user: Record<string, unknown> };
      await route.fulfill({ response, json: { ...body, user: { ...body.user, asOf: "2026-03-02T10:00:00.000Z" } } });
    });
    await page.reload();
    await page.evaluate(() => ((document.getElementById("sidebar") as HTMLIFrameElement).style.width = "320px"));
    const frame = await sidebarFrame(page, WAIT_MS);
    const notice = await frame.waitForSelector('[data-testid="user"] [data-testid="user-cached"]');
    expect(((await notice.textContent()) ?? "").trim()).toMatch(cached);
    expect(await axeViolations(frame), `resilience-user-cached-${locale}-320`).toEqual([]);
    await screenshot(page, `resilience-user-cached-${locale}-320`);
    await page.close();
  });

  it("marks data older than the stale limit, and Refresh reads it again", async () => {
    const { page, frame } = await openTicket(trialTicket, "9002", locale);
    expect(await frame.$('[data-testid="stale"]')).toBeNull();
    const marker = await frame.waitForSelector('[data-testid="stale"]', { timeout: STALE_MS + WAIT_MS });
    expect((await marker.textContent())?.trim()).toMatch(stale);
    expect(await axeViolations(frame), `resilience-stale-${locale}-320`).toEqual([]);
    await screenshot(page, `resilience-stale-${locale}-320`);
    const reread = page.waitForRequest((r) => new URL(r.url()).pathname === "/api/context");
    await frame.click('[data-testid="stale-refresh"]');
    await reread;
    await frame.waitForSelector('[data-testid="customer"][data-refreshing="false"]');
    expect(await frame.$('[data-testid="stale"]')).toBeNull();
    await page.close();
  });

  it("offers Refresh on a 409 (changed since loaded); after it the same form goes through", async () => {
    const db = ui.steward.deps.database.db;
    const { page, frame } = await openTicket(trialTicket, "9002", locale);
    await frame.click('[data-testid="headline-actions"] button[data-action="billing.trial_extend"]');
    await frame.fill('[data-testid="action-form"] input[name="days"]', "2");
    await frame.fill('[data-testid="action-form"] textarea[name="reason"]', "Customer needs two more days");
    // Someone else changes the account meanwhile.
    const user = await requesterOf(trialTicket);
    await db.updateTable("accounts").set((eb) => ({ version: eb("version", "+", 1) })).where("id", "=", user.account_id).execute();
    await frame.click('[data-testid="submit-action"]');
    await frame.waitForSelector('[data-testid="refresh-context"]');
    // The 409 is said in the agent's language (the server's title and detail are English).
    expect(((await frame.textContent('[data-testid="action-form"] [data-testid="problem"] strong')) ?? "").trim()).toBe(changed);
    if (locale === "de") expect(await text(frame, '[data-testid="action-form"] [data-testid="problem"]')).not.toMatch(/Conflict|changed/);
    expect(await axeViolations(frame), `resilience-conflict-${locale}-320`).toEqual([]);
    await screenshot(page, `resilience-conflict-${locale}-320`);
    const reread = page.waitForRequest((r) => new URL(r.url()).pathname === "/api/context");
    await frame.click('[data-testid="refresh-context"]'); // by selector: where it is now, not where it was
    await reread;
    await frame.waitForSelector('[data-testid="action-form"]:not(:has([data-testid="refresh-context"]))');
    await frame.click('[data-testid="submit-action"]');
    const confirm = await frame.waitForSelector('[data-testid="confirm-action"], [data-testid="action-result"]');
    if ((await confirm.getAttribute("data-testid")) === "confirm-action") await confirm.click();
    await frame.waitForSelector('[data-testid="action-result"]');
    await page.close();
  });
});
