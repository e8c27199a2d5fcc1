import type { Frame } from "playwright-core";
import { describe, expect, it } from "vitest";
import { issueSessionToken } from "../../server/src/auth/sessionToken.js";
import { axeViolations } from "./support/axe.js";
import { screenshot } from "./support/browser.js";
import { sidebar320 } from "./support/sidebar320.js";

/**
 * Temporary grants in the sidebar at Zendesk's 320 px, in English and German: a raised role and extra
 * seats listed with their end (Intl, the agent's locale) and who gave them; End now ends the role at
 * once and the seats after showing the lower invoice, through the one write path; a read-only agent
 * sees the grants and why End now is not theirs. Real server (PGlite, demo data), the local Zendesk page.
 */
const ui = sidebar320();
const db = () => ui.steward.deps.database.db;
const ISO = /\d{4}-\d\d-\d\dT\d\d:\d\d/;

/** Grants made the way an agent makes them: through the API, as Olive Ops, for the ticket. */
async function grant(action: string, ticketId: number, target: { type: "user" | "account"; id: string }, input: Record<string, unknown>): Promise<string> {
  const { token } = await issueSessionToken(ui.steward.deps, { staffId: "stf_demo_ops", zendeskUserId: "9003" });
  const table = target.type === "user" ? "users" : "accounts";
  const { version } = await db().selectFrom(table).select("version").where("id", "=", target.id).executeTakeFirstOrThrow();
  const res = await fetch(`${ui.steward.appOrigin}/api/actions/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ ticketId: String(ticketId), reason: "Customer asked on the ticket", target, expectedVersion: version, input }),
  });
  const body = (await res.json()) as { result: Record<string, string> };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.result.elevationId ?? body.result.expansionId ?? "";
}

const grantText = async (frame: Frame, id: string) => ((await frame.textContent(`[data-grant="${id}"]`)) ?? "").replace(/\s+/g, " ").trim();

describe.each([
  { locale: "en-US", ticket: 1001, role: /^Owner role \(was Billing\) until .+ · by Olive Ops, ticket #1001/, seats: /^2 extra seats until .+ · by Olive Ops, ticket #1001/, needs: "needs Support" },
  { locale: "de", ticket: 1008, role: /^Rolle Inhaber \(vorher Admin\) bis .+ · von Olive Ops, Ticket #1008/, seats: /^2 zusätzliche Plätze bis .+ · von Olive Ops, Ticket #1008/, needs: "braucht Support" },
])("temporary grants ($locale, 320 px)", ({ locale, ticket, role, seats, needs }) => {
  it("lists a raised role and extra seats with their end; End now restores the role, and ends the seats after showing the lower invoice", async () => {
    const requester = await ui.requesterOf(ticket);
    const user = { type: "user" as const, id: requester.id };
    const account = { type: "account" as const, id: requester.account_id };
    const elevationId = await grant("user.elevate_temporarily", ticket, user, { role: "owner", hours: 5 });
    const expansionId = await grant("seats.expand_temporarily", ticket, account, { seats: 2, days: 3 });

    // A read-only agent sees both, and why End now is not theirs.
    const readOnly = await ui.openTicket(ticket, "9001", locale, { ready: '[data-testid="grants"]' });
    expect(await readOnly.frame.$$eval('[data-testid="grant-end"]', (bs) => bs.map((b) => (b as HTMLButtonElement).disabled))).toEqual([true, true]);
    expect(await readOnly.frame.textContent(`[data-grant="${elevationId}"] .why`)).toContain(needs);
    expect(await axeViolations(readOnly.frame), `grants-read-only-${locale}`).toEqual([]);
    await screenshot(readOnly.page, `grants-read-only-${locale}-320`);
    await readOnly.page.close();

    const { page, frame } = await ui.openTicket(ticket, "9002", locale, { ready: '[data-testid="grants"]' });
    expect(await frame.$$eval('[data-testid="grants"] li', (lis) => lis.map((li) => li.getAttribute("data-kind")))).toEqual(["elevation", "seats"]);
    expect(await grantText(frame, elevationId)).toMatch(role);
    expect(await grantText(frame, expansionId)).toMatch(seats);
    for (const id of [elevationId, expansionId]) expect(await grantText(frame, id)).not.toMatch(ISO);
    expect(await axeViolations(frame), `grants-${locale}`).toEqual([]);
    await screenshot(page, `grants-${locale}-320`);

    // The role: no money involved, so it ends on submit.
    await frame.click(`[data-grant="${elevationId}"] [data-testid="grant-end"]`);
    await frame.fill(`[data-grant="${elevationId}"] textarea[name="reason"]`, "Import finished, admin rights no longer needed");
    await frame.click(`[data-grant="${elevationId}"] [data-testid="submit-action"]`);
    await frame.waitForSelector('[data-testid="action-result"]');
    await frame.waitForSelector(`[data-grant="${elevationId}"]`, { state: "detached" });
    expect((await db().selectFrom("users").select("role").where("id", "=", user.id).executeTakeFirstOrThrow()).role).toBe(requester.role);
    const ended = await db().selectFrom("audit_log").select(["actor_staff_id", "ticket_id", "outcome"]).where("action", "=", "user.elevation_end").where("target_id", "=", user.id).execute();
    expect(ended).toEqual([{ actor_staff_id: "stf_demo_full", ticket_id: String(ticket), outcome: "succeeded" }]);

    // The seats: the lower invoice first, then End.
    await frame.click(`[data-grant="${expansionId}"] [data-testid="grant-end"]`);
    await frame.fill(`[data-grant="${expansionId}"] textarea[name="reason"]`, "The busy week is over");
    await frame.click(`[data-grant="${expansionId}"] [data-testid="submit-action"]`);
    await frame.waitForSelector('[data-testid="preview"]');
    expect(await axeViolations(frame), `grants-preview-${locale}`).toEqual([]);
    await screenshot(page, `grants-preview-${locale}-320`);
    await frame.click('[data-testid="confirm-action"]');
    await frame.waitForSelector('[data-testid="grants"]', { state: "detached" });
    const row = await db().selectFrom("seat_expansions").select("reverted_at").where("id", "=", expansionId).executeTakeFirstOrThrow();
    expect(row.reverted_at).not.toBeNull();
    await frame.waitForSelector('[data-testid="action-result"]');
    expect(await axeViolations(frame), `grants-ended-${locale}`).toEqual([]);
    await screenshot(page, `grants-ended-${locale}-320`);
    await page.close();
  });
});
