import type { Frame } from "playwright-core";
import { describe, expect, it } from "vitest";
import { issueSessionToken } from "../../server/src/auth/sessionToken.js";
import { axeViolations } from "./support/axe.js";
import { screenshot } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";

/**
 * The role forms at Zendesk's 320 px, in English and German. Role change: never owner or admin (the
 * server refuses them: the customer grants them), saying which action gives them instead and opening it;
 * for a deactivated user only the current role and those below it (the server refuses a higher one with
 * 409), saying why; what it offers the server accepts. Temporary elevation: only roles above the current
 * one, none for an owner. Real server (PGlite, demo data), the local Zendesk page.
 */
const ui = sidebar320();
const db = () => ui.steward.deps.database.db;
const FORM = '[data-testid="action-form"][data-action="user.role_change"]';
const said = async (frame: Frame, selector: string) => ((await frame.textContent(selector)) ?? "").replace(/\s+/g, " ").trim();

const ELEVATE = '[data-testid="action-form"][data-action="user.elevate_temporarily"]';
const PROMOTE = '[data-testid="action-form"][data-action="user.promote_admin"]';

/** The role change form, opened the way an agent opens it: all actions, then Change role. */
async function openRoleForm(ticket: number, locale: string) {
  const opened = await ui.openTicket(ticket, "9002", locale);
  await opened.frame.click('[data-testid="all-actions"]');
  await opened.frame.click('button[data-action="user.role_change"]');
  await opened.frame.waitForSelector(`${FORM} select[name="role"]`);
  return opened;
}

const offered = (frame: Frame, form = FORM) => frame.$$eval(`${form} select[name="role"] option`, (options) => options.map((o) => (o as HTMLOptionElement).value));

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
  {
    locale: "en-US",
    ticket: 1001,
    role: "billing",
    lower: ["billing", "member", "viewer"],
    raised: ["owner", "admin"],
    why: "Higher roles are not offered: the user is deactivated and could not use them. Activate the user first.",
    adminWhy: "Owner and admin are not offered here: the account's owners and admins grant them. For a limited time, use “Raise role temporarily”.",
    promoteWhy: "Owner and admin are not offered here: the account has no active owner or admin, so use “Make admin” instead.",
    ownerWhy: "Owner and admin are not offered here: the account's owners and admins grant them.",
    elevateButton: "Open “Raise role temporarily”",
    promoteButton: "Open “Make admin”",
  },
  {
    locale: "de",
    ticket: 1008,
    role: "admin",
    lower: ["admin", "billing", "member", "viewer"],
    raised: ["owner"],
    why: "Höhere Rollen werden nicht angeboten: Der Benutzer ist deaktiviert und könnte sie nicht nutzen. Aktivieren Sie zuerst den Benutzer.",
    adminWhy: "Inhaber und Admin werden hier nicht angeboten: Die Inhaber und Admins des Kontos vergeben sie. Befristet geht es mit „Rolle befristet erhöhen“.",
    promoteWhy: "Inhaber und Admin werden hier nicht angeboten: Das Konto hat keinen aktiven Inhaber oder Admin, nutzen Sie stattdessen „Zum Admin machen“.",
    ownerWhy: "Inhaber und Admin werden hier nicht angeboten: Die Inhaber und Admins des Kontos vergeben sie.",
    elevateButton: "„Rolle befristet erhöhen“ öffnen",
    promoteButton: "„Zum Admin machen“ öffnen",
  },
])("role forms ($locale, 320 px)", ({ locale, ticket, role, lower, raised, why, adminWhy, promoteWhy, ownerWhy, elevateButton, promoteButton }) => {
  it("never offers owner or admin as a role change, pointing to the action that gives them; a deactivated user only the current role and lower, says why, and the server accepts what it offers", async () => {
    const requester = await ui.requesterOf(ticket);
    expect([requester.status, requester.role]).toEqual(["active", role]);

    const active = await openRoleForm(ticket, locale);
    // The current role (where the form starts) and what support grants; owner and admin are the customer's.
    expect(await offered(active.frame)).toEqual(lower);
    expect(await active.frame.inputValue(`${FORM} select[name="role"]`)).toBe(role);
    expect(await said(active.frame, `${FORM} [data-testid="field-note"]`)).toBe(adminWhy);
    expect(await axeViolations(active.frame), `role-picker-active-${locale}`).toEqual([]);
    await screenshot(active.page, `role-picker-active-${locale}-320`);
    // The note's action opens: the elevation offers only roles above the current one.
    expect(await said(active.frame, `${FORM} [data-testid="open-instead"]`)).toBe(elevateButton);
    await active.frame.click(`${FORM} [data-testid="open-instead"]`);
    await active.frame.waitForSelector(`${ELEVATE} select[name="role"]`);
    expect(await active.frame.$(FORM)).toBeNull();
    expect(await offered(active.frame, ELEVATE)).toEqual(raised);
    expect(await active.frame.inputValue(`${ELEVATE} select[name="role"]`)).toBe(raised.at(-1));
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

  it("points to Make admin where the account has no active admin, and offers an owner neither admin nor an elevation", async () => {
    // 1007: a billing user whose account's only owner and admin have left.
    const noAdmin = await ui.requesterOf(1007);
    expect([noAdmin.status, noAdmin.role]).toEqual(["active", "billing"]);
    const promote = await openRoleForm(1007, locale);
    expect(await offered(promote.frame)).toEqual(["billing", "member", "viewer"]);
    expect(await said(promote.frame, `${FORM} [data-testid="field-note"]`)).toBe(promoteWhy);
    expect(await said(promote.frame, `${FORM} [data-testid="open-instead"]`)).toBe(promoteButton);
    await promote.frame.click(`${FORM} [data-testid="open-instead"]`);
    await promote.frame.waitForSelector(`${PROMOTE} select[name="role"]`);
    expect(await offered(promote.frame, PROMOTE)).toEqual(["admin", "owner"]);
    await promote.page.close();

    // 1002: the account's owner, with an admin beside them.
    const owner = await ui.requesterOf(1002);
    expect([owner.status, owner.role]).toEqual(["active", "owner"]);
    const { page, frame } = await openRoleForm(1002, locale);
    expect(await offered(frame)).toEqual(["owner", "billing", "member", "viewer"]);
    expect(await said(frame, `${FORM} [data-testid="field-note"]`)).toBe(ownerWhy);
    expect(await frame.$(`${FORM} [data-testid="open-instead"]`)).toBeNull();
    // Nothing is above an owner: no elevation in the list.
    expect(await frame.$('button[data-action="user.elevate_temporarily"]')).toBeNull();
    await page.close();
  });
});
