import type { Frame } from "playwright-core";
import { describe, expect, it } from "vitest";
import { axeViolations } from "./support/axe.js";
import { screenshot } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";

/**
 * The user's settings form (user.settings_change), built from the directory's declaration, in
 * Chromium through the local Zendesk page at 320 px, English and German: a select for the enum, a
 * checkbox for the flag, a text box with its length limit; saving changes the directory's copy and
 * the form shows it after the reload. axe: 0 violations with the form and after saving.
 */
const ui = sidebar320();

async function settingsForm(frame: Frame): Promise<void> {
  await frame.waitForSelector('[data-testid="settings-form"]');
}

describe.each([
  ["en-US", 1003, { title: "Settings", save: "Save settings", saved: "Settings saved" }],
  ["de", 1005, { title: "Einstellungen", save: "Einstellungen speichern", saved: "Einstellungen gespeichert" }],
] as const)("the settings form (%s, 320 px)", (locale, ticketId, text) => {
  it("renders the declared settings, saves a change to the directory and shows it after the reload", async () => {
    const requester = await ui.requesterOf(ticketId);
    const { page, frame } = await ui.openTicket(ticketId, "9002", locale);
    await settingsForm(frame);
    expect(await frame.textContent("#settings-title")).toBe(text.title);
    expect(await frame.$$eval("#setting-language option", (options) => options.map((o) => (o as HTMLOptionElement).value))).toEqual(["", "en", "de", "fr", "es"]);
    expect(await frame.getAttribute("#setting-weekly_digest", "type")).toBe("checkbox");
    expect(await frame.getAttribute("#setting-display_name", "maxlength")).toBe("80");
    // Nothing changed yet: nothing to save.
    expect(await frame.isDisabled('[data-testid="settings-save"]')).toBe(true);
    expect(await axeViolations(frame), `settings-form-${locale}`).toEqual([]);
    await screenshot(page, `settings-form-${locale}`);

    await frame.selectOption("#setting-language", "de");
    await frame.check("#setting-weekly_digest");
    await frame.fill("#settings-reason", "Customer asked for German and the weekly digest");
    expect(await frame.textContent('[data-testid="settings-save"]')).toBe(text.save);
    await frame.click('[data-testid="settings-save"]');
    await frame.waitForSelector('[data-testid="settings-saved"]');
    expect(await frame.textContent('[data-testid="settings-saved"]')).toBe(text.saved);

    const db = ui.steward.deps.database.db;
    expect((await db.selectFrom("users").select("directory_settings").where("id", "=", requester.id).executeTakeFirstOrThrow()).directory_settings).toEqual({ language: "de", weekly_digest: true });
    const entry = await db.selectFrom("audit_log").select(["outcome", "ticket_id", "reason"]).where("action", "=", "user.settings_change").where("target_id", "=", requester.id).executeTakeFirstOrThrow();
    expect(entry).toEqual({ outcome: "succeeded", ticket_id: String(ticketId), reason: "Customer asked for German and the weekly digest" });
    // The reloaded context carries the new values: the form shows them and has nothing to save again.
    await frame.waitForFunction(() => (document.querySelector("#setting-language") as HTMLSelectElement | null)?.value === "de" && !document.querySelector('#setting-language option[value=""]'));
    expect(await frame.isChecked("#setting-weekly_digest")).toBe(true);
    expect(await frame.isDisabled('[data-testid="settings-save"]')).toBe(true);
    expect(await axeViolations(frame), `settings-saved-${locale}`).toEqual([]);
    await screenshot(page, `settings-saved-${locale}`);
    await page.close();
  });
});
