import type { Frame, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { droppedGardenSelectors } from "../gardenTrim.js";
import { axeViolations } from "./support/axe.js";
import { screenshot } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";

/**
 * axe-core (WCAG 2.1 A/AA) on every view of the sidebar, in English and German, in Zendesk's 320 px:
 * 0 violations. The headline, timeout, stale and conflict views are checked in headline.test.ts and
 * resilience.test.ts; here the rest: the full action list with unavailable reasons, an open form and
 * its preview, the history tab, the requester picker and search, and a read-only agent.
 */
const ui = sidebar320();
// A read-only agent gets no availability answer: the actions card says so instead.
const openTicket = (ticketId: number, agent: string, locale: string) =>
  ui.openTicket(ticketId, agent, locale, { ready: '[data-testid="actions"]:is([data-availability="server"], [data-read-only="true"])' });

/**
 * The Garden rules the build drops, as element patterns: pseudo-classes and -elements taken off, so a
 * pattern matches wherever its rule could apply in any state (hover, focus…).
 */
const dropped = [...new Set(droppedGardenSelectors().map((s) => s.replace(/::?[\w-]+(\([^)]*\))?/g, "").trim()).filter(Boolean))];

async function expectAccessible(page: Page, frame: Frame, view: string): Promise<void> {
  // The pointer off the sidebar: a control left under it from the last click is judged in its resting colours.
  await page.mouse.move(0, 0);
  // The violations whole in the message, so a failure names the rule's elements and not only its id (a long
  // received value is cut short in the report).
  const violations = await axeViolations(frame);
  expect(violations.length, `${view}: ${JSON.stringify(violations)}`).toBe(0);
  // None of the Garden rules the build drops would style anything on this view (or the selector is unreadable).
  expect(dropped.length).toBeGreaterThan(50);
  const matching = await frame.evaluate((patterns) => patterns.filter((p) => { try { return document.querySelector(p) !== null; } catch { return true; } }), dropped);
  expect(matching, view).toEqual([]);
  await screenshot(page, `a11y-${view}`);
}

describe.each(["en-US", "de"])("every view passes axe (%s, 320 px)", (locale) => {
  it("the full action list with unavailable reasons, an open form and its preview", async () => {
    const { page, frame } = await openTicket(1004, "9002", locale);
    await frame.click('[data-testid="all-actions"]');
    await frame.waitForSelector('[data-testid="unavailable"]');
    await expectAccessible(page, frame, `all-actions-unavailable-${locale}`);
    await frame.click('[data-testid="headline-actions"] button[data-action="account.unsuspend"]');
    await frame.waitForSelector('[data-testid="action-form"]');
    await expectAccessible(page, frame, `form-${locale}`);
    await page.close();

    const ops = await openTicket(1011, "9003", locale);
    await ops.frame.click('[data-testid="all-actions"]');
    await ops.frame.click('button[data-action="account.delete"]');
    await ops.frame.fill('[data-testid="action-form"] textarea[name="reason"]', "Owner asked to close the account");
    await ops.frame.click('[data-testid="submit-action"]');
    await ops.frame.waitForSelector('[data-testid="preview"]');
    await expectAccessible(ops.page, ops.frame, `preview-${locale}`);
    await ops.page.close();
  });

  it("the history tab, the requester picker with search hits, and a read-only agent", async () => {
    const { page, frame } = await openTicket(1010, "9002", locale);
    await frame.click("#tab-history");
    await frame.waitForSelector('[data-testid="ticket-entries"], #panel-history .muted');
    await expectAccessible(page, frame, `history-${locale}`);
    await frame.click("#tab-customer");
    await frame.click('[data-testid="user"] .link-btn');
    await frame.fill("#picker-q", "casey.consultant");
    await frame.waitForSelector('[data-testid="search-hits"] [data-user-id]');
    await expectAccessible(page, frame, `picker-${locale}`);
    await page.close();

    const readOnly = await openTicket(1001, "9001", locale);
    await readOnly.frame.waitForSelector('[data-testid="read-only"]');
    // Told why, in the agent's language: their role, and the role the actions need.
    const why = ((await readOnly.frame.textContent('[data-testid="read-only"]')) ?? "").replace(/\s+/g, " ");
    expect(why).toContain(locale === "de" ? "Ihre Panel-Rolle (Nur lesen) darf nachschlagen, aber nichts ändern. Diese Aktionen brauchen mindestens Support" : "Your panel role (Read-only) can look things up but not change them. These actions need Support or above");
    await expectAccessible(readOnly.page, readOnly.frame, `read-only-${locale}`);
    await readOnly.page.close();
  });
});
