import type { Frame } from "playwright-core";
import { describe, expect, it } from "vitest";
import { issueSessionToken } from "../../server/src/auth/sessionToken.js";
import { axeViolations } from "./support/axe.js";
import { screenshot } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";

/**
 * The role change form at Zendesk's 320 px, in English and German: for an active user it offers every
 * role; for a deactivated one only the current role and those below it (the server refuses a higher one
 * with 409), saying why, and what it offers the server accepts. Real server (PGlite, demo data), the
 * local Zendesk page.
 */
const ui = sidebar320();
const db = () => ui.steward.deps.database.db;
const FORM = '[data-testid="action-form"][data-action="user.role_change"]';
const said = async (frame: Frame, selector: string) => ((await frame.textContent(selector)) ?? "").replace(/\s+/g, " ").trim();

/** The role change form, opened the way an agent opens it: all actions, then Change role. */
async function openRoleForm(ticket: number, locale: string) {
  const opened = await ui.openTicket(ticket, "9002", locale);
  await opened.frame.click('[data-testid="all-actions"]');
  await opened.frame.click('button[data-action="user.role_change"]');
  await opened.frame.waitForSelector(`${FORM} select[name="role"]`);
  return opened;
}

const offered = (frame: Frame) => frame.$$eval(`${FORM} select[name="role"] option`, (options) => options.map((o) => (o as HTMLOptionElement).value));

/** Deactivated the way an agent does it: through the API, as Olive Ops, for the ticket. */
async function deactivate(ticketId: number, userId: string): Promise<void> {
  const { token } = await issueSessionToken(ui.steward.deps, { staffId: "stf_demo_ops", zendeskUserId: "9003" });
  const { version } = await db().selectFrom("users").select("version").where("id", "=", userId).executeTakeFirstOrThrow();
  const res = await fetch(`${ui.steward.appOrigin}/api/actions/user.deactivate`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ ticketId: String(ticketId), reason: "Customer left the company", target: { type: "user", id: userId }, expectedVersion: version, input: {} }),
  });
  expect(res.status, await res.text()).toBe(200);
}

describe.each([
  { locale: "en-US", ticket: 1001, role: "billing", lower: ["billing", "member", "viewer"], why: "Higher roles are not offered: the user is deactivated and could not use them. Activate the user first." },
  { locale: "de", ticket: 1008, role: "admin", lower: ["admin", "billing", "member", "viewer"], why: "Höhere Rollen werden nicht angeboten: Der Benutzer ist deaktiviert und könnte sie nicht nutzen. Aktivieren Sie zuerst den Benutzer." },
])("role change form ($locale, 320 px)", ({ locale, ticket, role, lower, why }) => {
  it("offers an active user every role; a deactivated one only the current role and lower, says why, and the server accepts what it offers", async () => {
    const requester = await ui.requesterOf(ticket);
    expect([requester.status, requester.role]).toEqual(["active", role]);

    const active = await openRoleForm(ticket, locale);
    expect(await offered(active.frame)).toEqual(["owner", "admin", "billing", "member", "viewer"]);
    expect(await active.frame.inputValue(`${FORM} select[name="role"]`)).toBe(role);
    expect(await active.frame.$(`${FORM} [data-testid="field-note"]`)).toBeNull();
    await active.page.close();

    await deactivate(ticket, requester.id);
    const { page, frame } = await openRoleForm(ticket, locale);
    expect(await offered(frame)).toEqual(lower);
    // It starts at the current role, which stays shown.
    expect(await frame.inputValue(`${FORM} select[name="role"]`)).toBe(role);
    expect(await said(frame, `${FORM} [data-testid="field-note"]`)).toBe(why);
    // Read with the field by screen readers.
    const noteId = await frame.getAttribute(`${FORM} [data-testid="field-note"]`, "id");
    expect((await frame.getAttribute(`${FORM} select[name="role"]`, "aria-describedby"))?.split(" ")).toContain(noteId);
    expect(await axeViolations(frame), `role-picker-deactivated-${locale}`).toEqual([]);
    await screenshot(page, `role-picker-deactivated-${locale}-320`);

    // What it offers goes through: the lowest role, for the deactivated user.
    await frame.selectOption(`${FORM} select[name="role"]`, "viewer");
    await frame.fill(`${FORM} textarea[name="reason"]`, "Owner asked to restrict the former employee's access");
    // A role change shows the role before and after first.
    await frame.click(`${FORM} [data-testid="submit-action"]`);
    await frame.click(`${FORM} [data-testid="confirm-action"]`);
    await frame.waitForSelector('[data-testid="action-result"]');
    expect(await db().selectFrom("users").select(["role", "status"]).where("id", "=", requester.id).executeTakeFirstOrThrow()).toEqual({ role: "viewer", status: "deactivated" });
    await page.close();
  });
});
