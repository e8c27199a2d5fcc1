import type { Frame, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import sidebarDe from "../translations/de.json";
import consoleDe from "../src/console/translations/de.json";
import { launchChromium, screenshot, sidebarFrame, type TestBrowser } from "./support/browser.js";
import { buildSidebar, startSteward, type StewardUnderTest } from "./support/steward.js";

/**
 * Two-person approval end to end in Chromium, through the local Zendesk page and the real server:
 * a support_full agent asks for an over-cap credit from the sidebar, an operations agent approves it
 * in the console's Approvals tab, and the sidebar shows it approved; the credit happened once.
 */
let app: Awaited<ReturnType<typeof buildSidebar>>;
let browser: TestBrowser;
let steward: StewardUnderTest;
vi.setConfig({ testTimeout: 180_000, hookTimeout: 240_000 });
const WAIT_MS = 45_000;
const TICKET = 1006;
// The second test's requests are on another customer's ticket, so neither test sees the other's approvals, credits or notices.
const OTHER_TICKET = 1001;
const AMOUNT_CENTS = 7_500; // support_full may credit 50.00 per request; operations 1,000.00

beforeAll(async () => {
  browser = await launchChromium();
  app = await buildSidebar();
  steward = await startSteward({ appDir: app.dir });
});
afterAll(async () => {
  await steward?.close();
  await browser?.close();
  app?.remove();
});

async function consoleFrame(page: Page): Promise<Frame> {
  const started = Date.now();
  for (;;) {
    const frame = page.frames().find((f) => !f.isDetached() && f.name() === "steward-console" && f.url().includes("/console?"));
    if (frame) return frame;
    if (Date.now() - started > WAIT_MS) throw new Error("the Steward console frame did not load");
    await page.waitForTimeout(50);
  }
}

async function accountOfTicket(ticketId: number): Promise<string> {
  const db = steward.deps.database.db;
  const ticket = await db.selectFrom("demo_tickets").select("requester_external_id").where("id", "=", ticketId).executeTakeFirstOrThrow();
  const user = await db.selectFrom("users").select("account_id").where("id", "=", ticket.requester_external_id as string).executeTakeFirstOrThrow();
  return user.account_id;
}

async function creditsOf(accountId: string): Promise<number> {
  const rows = await steward.deps.database.db
    .selectFrom("billing_balance_transactions as t")
    .innerJoin("billing_customers as c", "c.id", "t.customer_id")
    .select("t.id")
    .where("c.account_id", "=", accountId)
    .where("t.amount_cents", "=", -AMOUNT_CENTS)
    .execute();
  return rows.length;
}

it("support_full asks for approval of an over-cap credit in the sidebar; operations approves it in the console; it runs once", async () => {
  const accountId = await accountOfTicket(TICKET);
  expect(await creditsOf(accountId)).toBe(0);

  // The sidebar, as Sam (support_full): 75.00 is over the cap, so the form offers to ask for approval.
  const sidebarPage = await browser.newPage();
  sidebarPage.setDefaultTimeout(WAIT_MS);
  await sidebarPage.goto(`${steward.zendeskUrl}?ticket=${TICKET}&agent=9002&locale=en-US`);
  const sidebar = await sidebarFrame(sidebarPage, WAIT_MS);
  await sidebar.waitForSelector('[data-testid="user"]');
  await sidebar.click('[data-testid="all-actions"]');
  await sidebar.click('button[data-action="billing.credit_apply"]');
  const form = '[data-testid="action-form"][data-action="billing.credit_apply"]';
  await sidebar.fill(`${form} input[name="amountCents"]`, "75.00");
  await sidebar.fill(`${form} textarea[name="reason"]`, "Customer was double charged for the seats");
  await sidebar.click(`${form} [data-testid="submit-action"]`);
  await sidebar.waitForSelector(`${form} [data-testid="problem"]`);
  expect(await creditsOf(accountId)).toBe(0);
  // "Notify the customer" stays ticked (the default): the choice must survive until the approver runs it.
  expect(await sidebar.isChecked(`${form} input[type="checkbox"][id$="-notify"]`)).toBe(true);
  await sidebar.click(`${form} [data-testid="ask-approval"]`);
  await sidebar.waitForSelector(`${form} [data-testid="approval-asked"]`);
  const pending = await sidebar.waitForSelector('[data-testid="ticket-approvals"] li[data-status="pending"]');
  expect(await pending.textContent()).toContain("sam.support@steward-demo.test");
  expect(await sidebar.isDisabled(`${form} [data-testid="submit-action"]`)).toBe(true);
  await screenshot(sidebarPage, "approval-asked");
  expect(await creditsOf(accountId)).toBe(0);

  const stored = await steward.deps.database.db.selectFrom("approval_requests").selectAll().where("ticket_id", "=", String(TICKET)).execute();
  expect(stored).toHaveLength(1);
  const approvalId = stored[0]?.id as string;
  expect(stored[0]).toMatchObject({ action: "billing.credit_apply", ticket_id: String(TICKET), target_id: accountId, status: "pending", requested_by_staff_id: "stf_demo_full", input: { amountCents: 7_500, notifyCustomer: true } });
  const notices = () => steward.deps.database.db.selectFrom("mail_outbox").select("to_address").where("ticket_id", "=", String(TICKET)).where("subject", "=", "A credit was added to your balance").execute();
  expect(await notices()).toEqual([]);

  // Ada (admin) may decide it too; her Open ticket goes through routeTo to the ticket with its sidebar.
  const adaPage = await browser.newPage();
  adaPage.setDefaultTimeout(WAIT_MS);
  await adaPage.goto(`${steward.zendeskUrl}?view=console&agent=9004&tz=UTC&locale=en-US`);
  const adaConsole = await consoleFrame(adaPage);
  await adaConsole.click('[data-tab="approvals"]');
  await adaConsole.click(`[data-testid="approvals-pending"] article[data-approval="${approvalId}"] [data-testid="open-ticket"]`);
  await adaPage.waitForFunction((ticket) => document.body.dataset.routedTo === `ticket:${ticket}` && document.body.dataset.view === "tickets", TICKET);
  await adaPage.close();

  // The console, as Olive (operations): the request waits in the Approvals tab with its details.
  const consolePage = await browser.newPage();
  consolePage.setDefaultTimeout(WAIT_MS);
  await consolePage.goto(`${steward.zendeskUrl}?view=console&agent=9003&tz=UTC&locale=en-US`);
  const console = await consoleFrame(consolePage);
  await console.click('[data-tab="approvals"]');
  const item = `[data-testid="approvals-pending"] article[data-approval="${approvalId}"]`;
  await console.waitForSelector(item);
  expect(await console.textContent(`${item} [data-testid="approval-reason"]`)).toBe("Customer was double charged for the seats");
  expect(await console.textContent(`${item} [data-input="amountCents"]`)).toBe("75.00");
  expect(await console.textContent(item)).toContain("sam.support@steward-demo.test");
  expect(await console.textContent(item)).toContain(`#${TICKET}`);
  await screenshot(consolePage, "approval-pending-in-console");
  await console.click(`${item} [data-testid="approve"]`);
  await console.waitForSelector(item, { state: "detached" });
  await console.waitForSelector('[data-testid="approvals-pending"] p.muted');

  // The sidebar learns the decision on its own (it re-reads while a request is pending).
  const approved = await sidebar.waitForSelector(`[data-testid="ticket-approvals"] li[data-approval="${approvalId}"][data-status="approved"]`);
  expect(await approved.textContent()).toContain("olive.ops@steward-demo.test");
  await screenshot(sidebarPage, "approval-approved");

  // Exactly one credit, audited once with both people; the customer notice Sam left ticked went out with it.
  expect(await creditsOf(accountId)).toBe(1);
  const admins = await steward.deps.database.db.selectFrom("users").select("email").where("account_id", "=", accountId).where("role", "in", ["owner", "admin"]).where("status", "in", ["active", "suspended"]).execute();
  expect((await notices()).map((n) => n.to_address).sort()).toEqual(admins.map((a) => a.email).sort());
  const audited = await steward.deps.database.db
    .selectFrom("audit_log")
    .select(["actor_email", "outcome"])
    .where("action", "=", "billing.credit_apply")
    .where("target_id", "=", accountId)
    .where("outcome", "=", "succeeded")
    .execute();
  expect(audited).toEqual([{ actor_email: "olive.ops@steward-demo.test", outcome: "succeeded" }]);

  // Approving again from the page (a second click that got through) runs nothing more.
  const again = await console.evaluate(async (id) => {
    const token = document.querySelector<HTMLMetaElement>('meta[name="steward-session"]')?.content;
    const res = await fetch(`/api/approvals/${id}/approve`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": "second-click-0001" }, body: "{}" });
    return res.status;
  }, approvalId);
  expect(again).toBe(200);
  expect(await creditsOf(accountId)).toBe(1);

  // Sam's console, in German (its catalogs are fetched, not bundled), lists his request as approved.
  await consolePage.close();
  const samConsole = await browser.newPage();
  samConsole.setDefaultTimeout(WAIT_MS);
  await samConsole.goto(`${steward.zendeskUrl}?view=console&agent=9002&tz=UTC&locale=de-DE`);
  const samFrame = await consoleFrame(samConsole);
  expect(await samFrame.textContent('[data-tab="approvals"]')).toBe(consoleDe["tab.approvals"]);
  await samFrame.click('[data-tab="approvals"]');
  const mine = await samFrame.waitForSelector(`[data-testid="approvals-mine"] li[data-approval="${approvalId}"][data-status="approved"]`);
  expect(await mine.textContent()).toContain(sidebarDe["action.billing.credit_apply"]);
  expect(await mine.textContent()).toContain(consoleDe["approvals.status.approved"]);
  await samConsole.close();
  await sidebarPage.close();
});

it("rejects with a required reason, and an approve retried after a network failure carries the same Idempotency-Key and credits once", async () => {
  const accountId = await accountOfTicket(OTHER_TICKET);
  const sidebarPage = await browser.newPage();
  sidebarPage.setDefaultTimeout(WAIT_MS);
  await sidebarPage.goto(`${steward.zendeskUrl}?ticket=${OTHER_TICKET}&agent=9002&locale=en-US`);
  const sidebar = await sidebarFrame(sidebarPage, WAIT_MS);
  await sidebar.waitForSelector('[data-testid="user"]');
  // Two more requests as Sam, straight through the API the sidebar uses.
  const ask = (amountCents: number) =>
    sidebar.evaluate(
      async ({ ticketId, targetId, amountCents }) => {
        const token = document.querySelector<HTMLMetaElement>('meta[name="steward-session"]')?.content;
        const res = await fetch("/api/approvals", {
          method: "POST",
          headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
          body: JSON.stringify({ action: "billing.credit_apply", targetType: "account", targetId, ticketId, reason: `Goodwill ${amountCents}`, input: { amountCents } }),
        });
        return ((await res.json()) as { approval: { id: string } }).approval.id;
      },
      { ticketId: String(OTHER_TICKET), targetId: accountId, amountCents },
    );
  const toReject = await ask(6_000);
  const toApprove = await ask(6_500);

  const page = await browser.newPage();
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(`${steward.zendeskUrl}?view=console&agent=9003&tz=UTC&locale=en-US`);
  const frame = await consoleFrame(page);
  await frame.click('[data-tab="approvals"]');
  const rejectItem = `[data-testid="approvals-pending"] article[data-approval="${toReject}"]`;
  await frame.click(`${rejectItem} [data-testid="reject"]`);
  await frame.click(`${rejectItem} [data-testid="confirm-reject"]`);
  // Without a reason the form does not send: still pending.
  expect(await frame.evaluate((sel) => document.querySelector<HTMLTextAreaElement>(`${sel} textarea[name="reason"]`)?.validity.valueMissing, rejectItem)).toBe(true);
  expect((await steward.deps.database.db.selectFrom("approval_requests").select("status").where("id", "=", toReject).executeTakeFirstOrThrow()).status).toBe("pending");
  await frame.fill(`${rejectItem} textarea[name="reason"]`, "Credit already given last week");
  await frame.click(`${rejectItem} [data-testid="confirm-reject"]`);
  await frame.waitForSelector(rejectItem, { state: "detached" });
  expect(await steward.deps.database.db.selectFrom("approval_requests").select(["status", "decision_reason"]).where("id", "=", toReject).executeTakeFirstOrThrow()).toEqual({ status: "rejected", decision_reason: "Credit already given last week" });

  // The first approve never reaches the server; the retry sends the same key.
  const keys: string[] = [];
  let drop = true;
  await page.route(`**/api/approvals/${toApprove}/approve`, async (route) => {
    keys.push((await route.request().headerValue("idempotency-key")) ?? "");
    if (drop) {
      drop = false;
      await route.abort("connectionreset");
    } else await route.continue();
  });
  const approveItem = `[data-testid="approvals-pending"] article[data-approval="${toApprove}"]`;
  await frame.click(`${approveItem} [data-testid="approve"]`);
  await frame.waitForSelector(`${approveItem} [data-testid="approval-problem"]`);
  expect(await steward.deps.database.db.selectFrom("approval_requests").select("status").where("id", "=", toApprove).executeTakeFirstOrThrow()).toEqual({ status: "pending" });
  await frame.click(`${approveItem} [data-testid="approve"]`);
  await frame.waitForSelector(approveItem, { state: "detached" });
  expect(keys).toHaveLength(2);
  expect(keys[0]).toMatch(/\S{8,}/);
  expect(keys[1]).toBe(keys[0]);

  const amounts = await steward.deps.database.db
    .selectFrom("billing_balance_transactions as t")
    .innerJoin("billing_customers as c", "c.id", "t.customer_id")
    .select("t.amount_cents")
    .where("c.account_id", "=", accountId)
    .where("t.amount_cents", "in", [-6_000, -6_500])
    .execute();
  expect(amounts).toEqual([{ amount_cents: -6_500 }]);

  // The sidebar's card shows both decisions once it reads them again (these requests bypassed its form).
  await sidebarPage.reload();
  const reloaded = await sidebarFrame(sidebarPage, WAIT_MS);
  await reloaded.waitForSelector(`[data-testid="ticket-approvals"] li[data-approval="${toReject}"][data-status="rejected"]`);
  await reloaded.waitForSelector(`[data-testid="ticket-approvals"] li[data-approval="${toApprove}"][data-status="approved"]`);
  expect(await reloaded.textContent(`[data-testid="ticket-approvals"] li[data-approval="${toReject}"]`)).toContain("Credit already given last week");
  await page.close();
  await sidebarPage.close();
});
