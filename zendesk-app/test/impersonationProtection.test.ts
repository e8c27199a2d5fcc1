import type { Frame } from "playwright-core";
import { describe, expect, it } from "vitest";
import { axeViolations } from "./support/axe.js";
import { screenshot } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";

/**
 * Protecting a customer from "View as customer" from the sidebar, at Zendesk's 320 px, in English and
 * German: the generic action list offers whichever of protect / unprotect applies (context carries
 * the flag), runs it through the server, and shows lifting it as needing operations to a support agent;
 * the user card and the View as customer card say the user is protected.
 * Real server (PGlite, demo data), real ZAF SDK, the local Zendesk page.
 */
const ui = sidebar320();
const text = async (frame: Frame, selector: string) => ((await frame.textContent(selector)) ?? "").trim();
const flagOf = async (userId: string) => (await ui.steward.deps.database.db.selectFrom("users").select("impersonation_protected").where("id", "=", userId).executeTakeFirstOrThrow()).impersonation_protected;

async function run(frame: Frame, action: string, reason: string, previewed: string) {
  await frame.click(`[data-testid="all-actions-list"] button[data-action="${action}"]`);
  // What changes is shown as the form opens (no input to wait for), in the agent's language, before Run.
  await frame.waitForSelector('[data-testid="action-form"] [data-testid="preview"]');
  expect((await text(frame, '[data-testid="action-form"] [data-testid="preview"] strong')).replace(/\s+/g, " ")).toBe(previewed);
  await frame.fill(`[data-action="${action}"] textarea[name="reason"]`, reason);
  await frame.click('[data-testid="submit-action"]');
  await frame.waitForSelector('[data-testid="action-result"]');
}

describe("impersonation protection in the sidebar (320 px)", () => {
  it("en, support: protects the requester from the action list; lifting it is shown as needing operations", async () => {
    const user = await ui.requesterOf(1002);
    expect([user.status, user.impersonation_protected]).toEqual(["active", false]);
    const { page, frame } = await ui.openTicket(1002, "9002", "en-US");
    await frame.click('[data-testid="all-actions"]');
    const protect = '[data-testid="all-actions-list"] [data-group="auth"] button[data-action="user.impersonation_protect"]';
    expect(await text(frame, protect)).toBe("Protect from View as customer");
    expect(await frame.$('button[data-action="user.impersonation_unprotect"]')).toBeNull();

    await run(frame, "user.impersonation_protect", "Customer asked that no one signs in to their account", `No agent can view the product as ${user.name} <${user.email}> from now on`);
    expect(await flagOf(user.id)).toBe(true);
    // The context now says protected: lifting it is offered, disabled for support, with the reason.
    const unprotect = await frame.waitForSelector('[data-testid="all-actions-list"] button[data-action="user.impersonation_unprotect"][data-available="false"]');
    expect(await unprotect.textContent()).toBe("Allow View as customer again");
    expect(await text(frame, '[data-testid="unavailable"] li[data-action="user.impersonation_unprotect"]')).toBe("Allow View as customer again: needs Operations");
    expect(await frame.$(protect)).toBeNull();
    // The user card says so, and the View as customer card explains instead of offering a form the server refuses.
    expect(await text(frame, '[data-testid="user"] [data-badge="protected"]')).toBe("No View as customer");
    expect(await text(frame, '[data-testid="imp-protected"]')).toMatch(/^At the customer's request, no one views their account as them/);
    expect(await frame.$('[data-testid="imp-form"]')).toBeNull();
    expect(await axeViolations(frame), "impersonation-protect-en-320").toEqual([]);
    await screenshot(page, "impersonation-protect-en-320");
    await page.close();
  });

  it("de, operations: lifts the protection with the German label", async () => {
    const user = await ui.requesterOf(1003);
    await ui.steward.deps.database.db.updateTable("users").set({ impersonation_protected: true }).where("id", "=", user.id).execute();
    const { page, frame } = await ui.openTicket(1003, "9003", "de");
    expect(await text(frame, '[data-testid="user"] [data-badge="protected"]')).toBe("Kein „Als Kunde ansehen“");
    await frame.click('[data-testid="all-actions"]');
    const unprotect = '[data-testid="all-actions-list"] button[data-action="user.impersonation_unprotect"][data-available="true"]';
    expect(await text(frame, unprotect)).toBe("„Als Kunde ansehen“ wieder erlauben");
    await run(frame, "user.impersonation_unprotect", "Kunde bittet uns, sein Dashboard anzusehen", `Agents dürfen das Produkt wieder als ${user.name} <${user.email}> ansehen (befristet, jede Aktion protokolliert)`);
    expect(await flagOf(user.id)).toBe(false);
    await frame.waitForSelector('[data-testid="imp-form"]');
    expect(await frame.$('[data-testid="user"] [data-badge="protected"]')).toBeNull();
    expect(await text(frame, '[data-testid="all-actions-list"] button[data-action="user.impersonation_protect"]')).toBe("Vor „Als Kunde ansehen“ schützen");
    expect(await axeViolations(frame), "impersonation-unprotect-de-320").toEqual([]);
    await page.close();
  });
});
