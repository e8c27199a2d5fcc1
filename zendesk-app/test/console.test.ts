import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { sql } from "kysely";
import type { Frame, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { BUDGET_GZIP_BYTES, measureAssets } from "../../scripts/bundle-budget.js";
import { appendAudit } from "../../server/src/audit/auditLog.js";
import { fillAuditLog } from "../../server/test/support/auditFill.js";
import type { StaffActor } from "../../server/src/actor.js";
import { DEMO_AGENTS } from "../../server/src/seed/demo.js";
import { launchChromium, screenshot, type TestBrowser } from "./support/browser.js";
import { buildSidebar, startSteward, type StewardUnderTest } from "./support/steward.js";

/**
 * The team-lead console (nav_bar) in Chromium, inside the local Zendesk page's console view, against
 * the real server: the unmodified SDK, the signed POST to /console, the explorer API.
 */
let app: Awaited<ReturnType<typeof buildSidebar>>;
let browser: TestBrowser;
vi.setConfig({ testTimeout: 120_000, hookTimeout: 240_000 });
const WAIT_MS = 45_000;

beforeAll(async () => {
  browser = await launchChromium();
  app = await buildSidebar();
});
afterAll(async () => {
  await browser?.close();
  app?.remove();
});

it("keeps the console's JS + CSS (with the chunk it shares with the sidebar) within 40 KiB gzipped, zod left out", () => {
  const sizes = measureAssets(app.dir, "console.html");
  expect(sizes.some((s) => s.file.includes("console"))).toBe(true);
  expect(sizes.reduce((sum, s) => sum + s.gzip, 0)).toBeLessThanOrEqual(BUDGET_GZIP_BYTES);
  const js = sizes.filter((s) => s.file.endsWith(".js")).map((s) => readFileSync(join(app.dir, s.file), "utf8")).join("\n");
  expect(js).toContain("iframe.handshake");
  expect(js).not.toMatch(/ZodError|_zod/);
});

function actor(role: (typeof DEMO_AGENTS)[number]["role"]): StaffActor {
  const a = DEMO_AGENTS.find((x) => x.role === role) as (typeof DEMO_AGENTS)[number];
  return { kind: "staff", staffId: a.id, zendeskUserId: a.zendeskUserId, email: a.email, name: a.name, panelRole: a.role };
}

async function consoleFrame(page: Page): Promise<Frame> {
  const started = Date.now();
  for (;;) {
    const frame = page.frames().find((f) => !f.isDetached() && f.name() === "steward-console" && f.url().includes("/console?"));
    if (frame) return frame;
    if (Date.now() - started > WAIT_MS) throw new Error("the Steward console frame did not load");
    await page.waitForTimeout(50);
  }
}

describe("the console in the local Zendesk page", () => {
  let steward: StewardUnderTest;
  const T0 = Date.parse("2026-01-14T15:30:00.000Z"); // 10:30 in New York (winter time)

  beforeAll(async () => {
    steward = await startSteward({ appDir: app.dir });
    const db = steward.deps.database.db;
    const clock = { now: () => new Date(T0) };
    // Entries an hour apart on ticket 1001 by Sam (support_full), one on ticket 1002 by Olive (operations).
    for (let i = 0; i < 3; i++) {
      const at = { now: () => new Date(T0 + i * 3_600_000) };
      await appendAudit(db, { actor: actor("support_full"), action: "user.suspend", target: { type: "user", id: `usr_ui_${i}`, accountId: "acc_ui" }, ticketId: "1001", reason: `ui ${i}`, before: { status: "active", seats: 3 }, after: { status: "suspended", seats: 3 }, outcome: "succeeded" }, at);
    }
    // Three on ticket 3333, which no sidebar opens during these tests.
    for (let i = 0; i < 3; i++) {
      const at = { now: () => new Date(T0 + (3 - i) * 60_000) };
      await appendAudit(db, { actor: actor("operations"), action: "account.suspend", target: { type: "account", id: "acc_tl", accountId: "acc_tl" }, ticketId: "3333", reason: `timeline ${i}`, outcome: "succeeded" }, at);
    }
    // More than a page on ticket 4444, so its first page comes with a cursor and "Load more".
    for (let i = 0; i < 55; i++) await appendAudit(db, { actor: actor("operations"), action: "account.suspend", target: { type: "account", id: "acc_many", accountId: "acc_many" }, ticketId: "4444", reason: `many ${i}`, outcome: "succeeded" }, { now: () => new Date(T0 - (i + 1) * 60_000) });
    await appendAudit(db, { actor: actor("operations"), action: "billing.credit_apply", target: { type: "account", id: "acc_ops", accountId: "acc_ops" }, ticketId: "1002", reason: "ops only", after: { creditedCents: 100 }, outcome: "succeeded" }, clock);
  });
  afterAll(async () => {
    await steward?.close();
  });

  async function openConsole(agent: string, tz: string, locale = "en-US", initScript?: () => void, routes?: (page: Page) => Promise<unknown>): Promise<{ page: Page; frame: Frame }> {
    const page = await browser.newPage();
    if (initScript) await page.addInitScript(initScript);
    if (routes) await routes(page);
    page.setDefaultTimeout(WAIT_MS);
    await page.goto(`${steward.zendeskUrl}?view=console&agent=${agent}&tz=${encodeURIComponent(tz)}&locale=${locale}`);
    const frame = await consoleFrame(page);
    await frame.waitForSelector('[data-testid="flag-counts"]');
    return { page, frame };
  }

  it("opens from the nav bar with the agent's time zone, filters in that zone, shows the diff and opens the ticket through routeTo", async () => {
    const { page, frame } = await openConsole("9003", "America/New_York");
    expect(await frame.getAttribute('[data-testid="time-zone"]', "data-zone")).toBe("America/New_York");
    expect(await frame.$('[data-testid="chart-agents"]')).not.toBeNull(); // operations sees everyone's activity
    await frame.click('[data-tab="explorer"]');
    await frame.waitForSelector('[data-testid="filters"]');

    // From 11:00 New York time (16:00 UTC) on ticket 1001: the second and third entries, newest first.
    await frame.fill('input[name="ticketId"]', "1001");
    await frame.fill('input[name="from"]', "2026-01-14T11:00");
    await frame.click('[data-testid="filters"] button[type="submit"]');
    await frame.waitForSelector('[data-testid="entries"][aria-busy="false"]');
    const reasons = await frame.$$eval('[data-testid="entries"] tbody tr', (rows) => rows.map((r) => r.getAttribute("data-seq")));
    expect(reasons).toHaveLength(2);
    const times = await frame.$$eval('[data-testid="entries"] tbody time', (ts) => ts.map((t) => [t.getAttribute("datetime"), t.textContent]));
    expect(times.map(([iso]) => iso)).toEqual([new Date(T0 + 2 * 3_600_000).toISOString(), new Date(T0 + 3_600_000).toISOString()]);
    const shown = new Intl.DateTimeFormat("en-US", { timeZone: "America/New_York", dateStyle: "medium", timeStyle: "long" }).format(new Date(T0 + 2 * 3_600_000));
    expect(times[0]?.[1]).toBe(shown);
    expect(shown).toContain("12:30:00 PM EST"); // 17:30 UTC shown as New York time

    // The entry view: exactly what changed, and the chain status.
    await frame.click('[data-testid="entries"] tbody tr:first-child');
    await frame.waitForSelector('[data-testid="diff"]');
    expect(await frame.$$eval('[data-testid="diff"] tbody tr', (rows) => rows.map((r) => [r.getAttribute("data-path"), r.querySelector(".before")?.textContent, r.querySelector(".after")?.textContent]))).toEqual([["status", "active", "suspended"]]);
    expect(["unsealed", "sealed", "verified"]).toContain(await frame.getAttribute('[data-testid="chain"]', "data-status"));
    expect(await frame.getAttribute('[data-testid="chain"]', "data-mac")).toBe("valid");
    await screenshot(page, "console-entry");

    // Open ticket: routeTo reaches the host, which opens the ticket with its sidebar.
    await frame.click('[data-testid="open-ticket"]');
    await page.waitForFunction(() => document.body.dataset.routedTo === "ticket:1001" && document.body.dataset.view === "tickets");
    await page.waitForSelector("#ticket-subject");
    expect(new URL(page.url()).searchParams.get("ticket")).toBe("1001");
    await page.close();
  });

  it("shows a ticket timeline oldest first, and exports the current filter with progress", async () => {
    const { page, frame } = await openConsole("9004", "UTC");
    await frame.click('[data-tab="explorer"]');
    await frame.waitForSelector('[data-testid="entries"] tbody tr');
    await frame.fill('input[name="ticketId"]', "3333");
    await frame.click('[data-testid="filters"] button[type="submit"]');
    // The rows are read once the table answers the query now asked (until then it shows the last one's, busy).
    await frame.waitForSelector('[data-testid="entries"][aria-busy="false"]');
    expect(await frame.$$eval('[data-testid="entries"] tbody tr', (rows) => rows.length)).toBe(3);
    const newestFirst = await frame.$$eval('[data-testid="entries"] tbody time', (ts) => ts.map((t) => t.getAttribute("datetime") ?? ""));
    expect(newestFirst).toEqual([...newestFirst].sort().reverse());
    await frame.click('[data-testid="entries"] tbody tr:first-child');
    await frame.click('[data-testid="ticket-timeline"]');
    await frame.waitForSelector('[data-testid="timeline"]');
    await frame.waitForSelector('[data-testid="entries"][aria-busy="false"]');
    expect(await frame.$$eval('[data-testid="entries"] tbody tr', (rows) => rows.length)).toBe(3);
    const isoTimes = await frame.$$eval('[data-testid="entries"] tbody time', (ts) => ts.map((t) => t.getAttribute("datetime") ?? ""));
    expect(isoTimes).toEqual([...isoTimes].sort());

    const download = page.waitForEvent("download");
    await frame.click('[data-testid="export"] button:first-child');
    await frame.waitForSelector('[data-testid="export-progress"][data-finished="true"]');
    expect(await frame.getAttribute('[data-testid="export-progress"]', "data-total")).toBe("3");
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/^steward-audit-.*\.csv$/);
    await page.close();
  });

  it("says how many entries the exported file holds, counting CSV records (not line breaks), and runs one export at a time", async () => {
    const db = steward.deps.database.db;
    for (const reason of ["first line\nsecond line", "one\r\ntwo\r\nthree"]) {
      await appendAudit(db, { actor: actor("operations"), action: "account.suspend", target: { type: "account", id: "acc_lines", accountId: "acc_lines" }, ticketId: "5555", reason, outcome: "succeeded" }, { now: () => new Date(T0) });
    }
    const { page, frame } = await openConsole("9004", "UTC");
    await frame.click('[data-tab="explorer"]');
    await frame.fill('input[name="ticketId"]', "5555");
    await frame.click('[data-testid="filters"] button[type="submit"]');
    await frame.waitForFunction(() => document.querySelectorAll('[data-testid="entries"][aria-busy="false"] tbody tr').length === 2);
    // The total is counted before the stream: here the link's status says 3 where the file holds 2, as when an
    // intent settles or an entry is flagged in between. "Exported N" is what was sent.
    let exports = 0;
    await page.route(
      (url) => url.pathname.endsWith("/api/console/export-links"),
      async (route) => {
        exports += 1;
        await route.continue();
      },
    );
    await page.route(
      (url) => /\/api\/console\/export-links\/[0-9a-f-]{36}$/.test(url.pathname),
      async (route) => {
        const response = await route.fetch();
        const status = (await response.json()) as { total: number | null };
        await route.fulfill({ response, json: { ...status, total: status.total === null ? null : 3 } });
      },
    );
    const download = page.waitForEvent("download");
    // Both buttons at once (a double click): one export.
    await frame.evaluate(() => document.querySelectorAll<HTMLButtonElement>('[data-testid="export"] button').forEach((b) => b.click()));
    await frame.waitForSelector('[data-testid="export-progress"][data-finished="true"]');
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/\.csv$/);
    expect(await frame.getAttribute('[data-testid="export-progress"]', "data-done")).toBe("2");
    expect(await frame.textContent('[data-testid="export-progress"]')).toContain("Exported 2 entries");
    expect(await frame.textContent('[data-testid="export-note"]')).toBe("Your browser saves the file: see its downloads.");
    expect(exports).toBe(1);
    await page.close();
  });

  it("in German: says the activity charts count UTC days (not the agent's), and one exported entry in the singular", async () => {
    // The seeded entries are older than the charts' 30 days: the overview gets two groups' activity as the server sends it (label = key).
    const { page, frame } = await openConsole("9004", "Europe/Berlin", "de", undefined, (p) =>
      p.route(
        (url) => url.pathname.endsWith("/api/console/overview"),
        async (route) => {
          const response = await route.fetch();
          const overview = (await response.json()) as { days: string[] };
          const counts = overview.days.map((_, i) => (i === overview.days.length - 1 ? 2 : 0));
          await route.fulfill({ response, json: { ...overview, byGroup: [{ key: "context", label: "context", counts }, { key: "audit", label: "audit", counts }] } });
        },
      ),
    );
    expect(await frame.textContent('[data-testid="who"]')).toBe("ada.admin@steward-demo.test · Admin");
    expect(await frame.textContent('[data-testid="chart-agents"] h2')).toBe("Aktivität pro Agent (30 Tage, UTC)");
    expect(await frame.textContent('[data-testid="chart-groups"] h2')).toBe("Aktivität pro Aktionsgruppe (30 Tage, UTC)");
    // Action groups by name, not by key, in the chart and in the group filter.
    const rows = await frame.$$eval('[data-testid="chart-groups"] .chart-row', (els) => els.map((r) => [r.getAttribute("data-series"), r.querySelector(".chart-label")?.textContent]));
    expect(rows).toEqual([["context", "Kundensuche"], ["audit", "Audit-Log"]]);
    await frame.click('[data-tab="explorer"]');
    const groupOptions = await frame.$$eval('select[name="group"] option', (os) => os.map((o) => [(o as HTMLOptionElement).value, o.textContent]));
    expect(groupOptions).toEqual(expect.arrayContaining([["context", "Kundensuche"], ["audit", "Audit-Log"], ["billing", "Abrechnung"]]));
    for (const [value, text] of groupOptions) if (value) expect(text, value).not.toBe(value);
    await frame.fill('input[name="ticketId"]', "1002");
    await frame.click('[data-testid="filters"] button[type="submit"]');
    await frame.waitForFunction(() => {
      const cells = [...document.querySelectorAll('[data-testid="entries"][aria-busy="false"] td[data-col="ticket"]')];
      return cells.length > 0 && cells.every((c) => c.textContent === "#1002");
    });
    const download = page.waitForEvent("download");
    await frame.click('[data-testid="export"] button:first-child');
    await frame.waitForSelector('[data-testid="export-progress"][data-finished="true"]');
    await download;
    expect(await frame.getAttribute('[data-testid="export-progress"]', "data-done")).toBe("1");
    expect((await frame.textContent('[data-testid="export-progress"]'))?.trim()).toBe("1 Eintrag exportiert.");
    await page.close();
  });

  it("says when an export stopped before it finished (its server process died), in English and German, and starts it again", async () => {
    // The first link's status answers as after a kill -9 mid-stream (the server's side is tested in exportKill.test.ts).
    let interruptedId: string | undefined;
    const links: string[] = [];
    const routes = (p: Page) =>
      p.route(
        (url) => /\/api\/console\/export-links\/[0-9a-f-]{36}$/.test(url.pathname),
        async (route) => {
          const id = new URL(route.request().url()).pathname.split("/").at(-1) as string;
          if (!links.includes(id)) links.push(id);
          interruptedId ??= id;
          const response = await route.fetch();
          const status = (await response.json()) as Record<string, unknown>;
          await route.fulfill({ response, json: id === interruptedId ? { ...status, state: "interrupted", rowsSent: 2, error: "export_interrupted: …" } : status });
        },
      );
    const { page, frame } = await openConsole("9003", "UTC", "en-US", undefined, routes);
    await frame.click('[data-tab="explorer"]');
    await frame.fill('input[name="ticketId"]', "1001");
    await frame.click('[data-testid="filters"] button[type="submit"]');
    await frame.waitForFunction(() => document.querySelectorAll('[data-testid="entries"][aria-busy="false"] tbody tr').length === 3);
    await frame.click('[data-testid="export"] button:first-child');
    const stopped = await frame.waitForSelector('[data-testid="export-interrupted"]');
    expect((await stopped.textContent())?.trim()).toBe("The export stopped before it finished: 2 entries were sent. Make a new export. Export again");
    expect(await frame.$('[data-testid="export-progress"]')).toBeNull();
    // Export again: a new link, followed to the end; the message goes.
    await frame.click('[data-testid="export-interrupted"] button');
    await frame.waitForSelector('[data-testid="export-progress"][data-finished="true"]');
    expect(await frame.getAttribute('[data-testid="export-progress"]', "data-done")).toBe("3");
    expect(await frame.$('[data-testid="export-interrupted"]')).toBeNull();
    expect(links).toHaveLength(2);
    await page.close();

    interruptedId = undefined;
    const de = await openConsole("9003", "UTC", "de", undefined, routes);
    await de.frame.click('[data-tab="explorer"]');
    await de.frame.waitForSelector('[data-testid="entries"][aria-busy="false"] tbody tr');
    await de.frame.click('[data-testid="export"] button:first-child');
    const gestoppt = await de.frame.waitForSelector('[data-testid="export-interrupted"]');
    expect((await gestoppt.textContent())?.trim()).toBe("Der Export wurde abgebrochen, bevor er fertig war: 2 Einträge wurden gesendet. Bitte einen neuen Export starten. Erneut exportieren");
    await de.page.close();
  });

  it("shows why an export was refused (the problem's detail and field), not only its status", async () => {
    const { page, frame } = await openConsole("9004", "UTC");
    await frame.click('[data-tab="explorer"]');
    await frame.waitForSelector('[data-testid="entries"] tbody tr');
    // A range the server refuses: from after to.
    await frame.fill('input[name="from"]', "2026-02-01T00:00");
    await frame.fill('input[name="to"]', "2026-01-01T00:00");
    await frame.click('[data-testid="filters"] button[type="submit"]');
    await frame.click('[data-testid="export"] button:first-child');
    const alert = await frame.waitForSelector('[data-testid="export"] [role="alert"]');
    expect(await alert.textContent()).toMatch(/invalid body fields.*body\.from: must not be after to/);
    await page.close();
  });

  it("keeps the table busy until the page for the filters now asked is in, and drops a page that comes back for filters since changed", async () => {
    const { page, frame } = await openConsole("9004", "UTC");
    await frame.click('[data-tab="explorer"]');
    await frame.waitForSelector('[data-testid="entries"][aria-busy="false"] tbody tr');
    // Ticket 1001's page is held back 1.5 s; ticket 3333's answers at once.
    let held = 0;
    await page.route(
      (url) => url.pathname.endsWith("/api/console/entries") && url.searchParams.get("ticketId") === "1001",
      async (route) => {
        held += 1;
        await new Promise((r) => setTimeout(r, 1_500));
        await route.continue();
      },
    );
    await frame.fill('input[name="ticketId"]', "1001");
    await frame.click('[data-testid="filters"] button[type="submit"]');
    expect(await frame.getAttribute('[data-testid="entries"]', "aria-busy")).toBe("true");
    await frame.fill('input[name="ticketId"]', "3333");
    await frame.click('[data-testid="filters"] button[type="submit"]');
    await frame.waitForSelector('[data-testid="entries"][aria-busy="false"]');
    const tickets = () => frame.$$eval('[data-testid="entries"] tbody td[data-col="ticket"]', (cells) => cells.map((c) => c.textContent));
    expect(await tickets()).toEqual(["#3333", "#3333", "#3333"]);
    // Ticket 1001's page arrives after: it is not shown over the filters now asked.
    await frame.waitForTimeout(2_000);
    expect(held).toBe(1);
    expect(await tickets()).toEqual(["#3333", "#3333", "#3333"]);
    expect(await frame.getAttribute('[data-testid="entries"]', "aria-busy")).toBe("false");
    await page.close();
  });

  it("drops the rows of the filters before when the first page for new ones fails, so neither they nor their cursor pass for the new answer; Try again loads it", async () => {
    const { page, frame } = await openConsole("9004", "UTC");
    await frame.click('[data-tab="explorer"]');
    await frame.waitForSelector('[data-testid="entries"][aria-busy="false"] tbody tr');
    await frame.fill('input[name="ticketId"]', "4444");
    await frame.click('[data-testid="filters"] button[type="submit"]');
    await frame.waitForSelector('[data-testid="more"]');
    expect(await frame.$$eval('[data-testid="entries"] tbody tr', (rows) => rows.length)).toBe(50);

    // The server is away for ticket 3333's first page.
    let down = true;
    const cursors: (string | null)[] = [];
    await page.route(
      (url) => url.pathname.endsWith("/api/console/entries"),
      async (route) => {
        const url = new URL(route.request().url());
        cursors.push(url.searchParams.get("cursor"));
        if (down && url.searchParams.get("ticketId") === "3333") await route.abort("connectionrefused");
        else await route.continue();
      },
    );
    await frame.fill('input[name="ticketId"]', "3333");
    await frame.click('[data-testid="filters"] button[type="submit"]');
    await frame.waitForSelector('.explorer > [role="alert"]');
    expect(await frame.$$eval('[data-testid="entries"] tbody tr', (rows) => rows.length)).toBe(0);
    expect(await frame.$('[data-testid="more"]')).toBeNull();

    down = false;
    await frame.click('[data-testid="entries-error"] button');
    await frame.waitForSelector('[data-testid="entries"][aria-busy="false"] tbody tr');
    expect(await frame.$$eval('[data-testid="entries"] tbody td[data-col="ticket"]', (cells) => cells.map((c) => c.textContent))).toEqual(["#3333", "#3333", "#3333"]);
    expect(await frame.$('[data-testid="entries-error"]')).toBeNull();
    // No request ever sent ticket 4444's cursor with ticket 3333.
    expect(cursors).toEqual([null, null]);
    await page.close();
  });

  it("works from the keyboard: an entry opens with the focus in it, Escape gives it back to its row, Load more goes on at the first row it brought", async () => {
    const { page, frame } = await openConsole("9004", "UTC");
    await frame.click('[data-tab="explorer"]');
    await frame.waitForSelector('[data-testid="entries"][aria-busy="false"] tbody tr');
    const seq = await frame.getAttribute('[data-testid="entries"] tbody tr:nth-child(2)', "data-seq");
    await frame.focus('[data-testid="entries"] tbody tr:nth-child(2)');
    await page.keyboard.press("Enter");
    await frame.waitForSelector('[data-testid="chain"]');
    expect(await frame.evaluate(() => document.activeElement?.closest('[data-testid="entry"]') !== null)).toBe(true);
    await page.keyboard.press("Escape");
    await frame.waitForSelector('[data-testid="entry"]', { state: "detached" });
    expect(await frame.evaluate(() => document.activeElement?.getAttribute("data-seq"))).toBe(seq);
    // Space opens it too, as on a button.
    await page.keyboard.press(" ");
    await frame.waitForSelector('[data-testid="chain"]');
    expect(await frame.getAttribute('[data-testid="entry"]', "aria-label")).toContain(String(seq));
    await page.keyboard.press("Escape");

    // "Load more" from the keyboard: the focus goes on to the first row it brought, not back to the top.
    await frame.fill('input[name="ticketId"]', "4444");
    await frame.click('[data-testid="filters"] button[type="submit"]');
    await frame.waitForFunction(() => {
      const cells = [...document.querySelectorAll('[data-testid="entries"][aria-busy="false"] td[data-col="ticket"]')];
      return cells.length > 0 && cells.every((c) => c.textContent === "#4444");
    });
    await frame.focus('[data-testid="more"]');
    await page.keyboard.press("Enter");
    await frame.waitForFunction(() => document.querySelectorAll('[data-testid="entries"] tbody tr').length > 50);
    expect(await frame.evaluate(() => document.activeElement?.getAttribute("data-seq"))).toBe(await frame.getAttribute('[data-testid="entries"] tbody tr:nth-child(51)', "data-seq"));
    await page.close();
  });

  it("keeps the applied filters: a timeline's Back returns to them, and so does coming back from another tab", async () => {
    const { page, frame } = await openConsole("9004", "UTC");
    await frame.click('[data-tab="explorer"]');
    await frame.waitForSelector('[data-testid="entries"][aria-busy="false"] tbody tr');
    const ticketsShown = async () => {
      await frame.waitForSelector('[data-testid="entries"][aria-busy="false"] tbody tr');
      return frame.$$eval('[data-testid="entries"] tbody td[data-col="ticket"]', (cells) => [...new Set(cells.map((c) => c.textContent))]);
    };
    await frame.fill('input[name="ticketId"]', "1001");
    await frame.selectOption('select[name="action"]', "user.suspend");
    await frame.click('[data-testid="filters"] button[type="submit"]');
    await frame.waitForFunction(() => {
      const cells = [...document.querySelectorAll('[data-testid="entries"][aria-busy="false"] td[data-col="ticket"]')];
      return cells.length > 0 && cells.every((c) => c.textContent === "#1001");
    });
    expect(await ticketsShown()).toEqual(["#1001"]);

    // Into the agent timeline of the first entry, and back.
    await frame.click('[data-testid="entries"] tbody tr:first-child');
    await frame.click('[data-testid="agent-timeline"]');
    await frame.waitForSelector('[data-testid="timeline"]');
    await frame.click('[data-testid="timeline-back"]');
    await frame.waitForSelector('[data-testid="filters"]');
    expect(await frame.inputValue('input[name="ticketId"]')).toBe("1001");
    expect(await frame.inputValue('select[name="action"]')).toBe("user.suspend");
    expect(await ticketsShown()).toEqual(["#1001"]);

    // To Start and back to the explorer.
    await frame.click('[data-tab="overview"]');
    await frame.waitForSelector('[data-testid="flag-counts"]');
    await frame.click('[data-tab="explorer"]');
    await frame.waitForSelector('[data-testid="filters"]');
    expect(await frame.inputValue('input[name="ticketId"]')).toBe("1001");
    expect(await ticketsShown()).toEqual(["#1001"]);
    await page.close();
  });

  it("moves between tabs with the arrow keys, Home and End (WAI-ARIA tabs: roving tabindex, selection follows focus)", async () => {
    const { page, frame } = await openConsole("9004", "UTC");
    const state = () =>
      frame.$$eval('[role="tablist"] [role="tab"]', (tabs) => ({
        selected: tabs.filter((t) => t.getAttribute("aria-selected") === "true").map((t) => t.getAttribute("data-tab")),
        tabbable: tabs.filter((t) => t.getAttribute("tabindex") === "0").map((t) => t.getAttribute("data-tab")),
        focused: document.activeElement?.getAttribute("data-tab") ?? null,
        panel: document.getElementById("console-tabpanel")?.getAttribute("aria-labelledby"),
      }));
    const ids = await frame.$$eval('[role="tab"]', (tabs) => tabs.map((t) => t.getAttribute("data-tab")));
    expect(ids).toEqual(["overview", "explorer", "approvals"]);
    expect(await frame.$$eval('[role="tab"]', (tabs) => tabs.map((t) => t.getAttribute("tabindex")))).toEqual(["0", "-1", "-1"]);
    await frame.focus('[data-tab="overview"]');
    await page.keyboard.press("ArrowRight");
    await frame.waitForSelector('[data-testid="filters"]');
    expect(await state()).toEqual({ selected: ["explorer"], tabbable: ["explorer"], focused: "explorer", panel: "tab-explorer" });
    await page.keyboard.press("End");
    expect(await state()).toEqual({ selected: ["approvals"], tabbable: ["approvals"], focused: "approvals", panel: "tab-approvals" });
    // Past the last tab the arrow wraps to the first, and back.
    await page.keyboard.press("ArrowRight");
    expect(await state()).toEqual({ selected: ["overview"], tabbable: ["overview"], focused: "overview", panel: "tab-overview" });
    await page.keyboard.press("ArrowLeft");
    expect(await state()).toEqual({ selected: ["approvals"], tabbable: ["approvals"], focused: "approvals", panel: "tab-approvals" });
    await page.keyboard.press("Home");
    await frame.waitForSelector('[data-testid="flag-counts"]');
    expect(await state()).toEqual({ selected: ["overview"], tabbable: ["overview"], focused: "overview", panel: "tab-overview" });
    // Tab leaves the tab list for the panel rather than visiting every tab.
    await page.keyboard.press("Tab");
    expect(await frame.evaluate(() => document.activeElement?.getAttribute("role"))).not.toBe("tab");
    await page.close();
  });

  it("lets the browser download a large export to disk: the file arrives whole and the console's JS heap never holds it", async () => {
    const ROWS = 25_000;
    // Far in the past (2020), where no other test's filters, pages or charts look.
    await sql`select audit_log_add_month('2020-01-01'::date)`.execute(steward.deps.database.db);
    await fillAuditLog(steward.deps.database.db, ROWS, { start: new Date("2020-01-01T00:00:00.000Z"), stepMs: 60_000 });
    // Counts every response body byte the page's scripts read (streamed or whole): holding the file means reading it.
    const countBodyBytes = () => {
      let bytes = 0;
      const read = ReadableStreamDefaultReader.prototype.read;
      ReadableStreamDefaultReader.prototype.read = async function (this: ReadableStreamDefaultReader) {
        const chunk = await read.call(this);
        bytes += chunk.value instanceof Uint8Array ? chunk.value.byteLength : 0;
        return chunk;
      };
      for (const name of ["arrayBuffer", "blob", "bytes", "text", "json"] as const) {
        const whole = Response.prototype[name] as ((this: Response) => Promise<unknown>) | undefined;
        if (!whole) continue;
        Object.defineProperty(Response.prototype, name, {
          value: async function (this: Response) {
            const body = await whole.call(this);
            bytes += typeof body === "string" ? body.length : body instanceof Blob ? body.size : body instanceof ArrayBuffer || body instanceof Uint8Array ? body.byteLength : (JSON.stringify(body)?.length ?? 0);
            return body;
          },
        });
      }
      Object.defineProperty(window, "bodyBytesRead", { get: () => bytes });
    };
    const { page, frame } = await openConsole("9004", "UTC", "en-US", countBodyBytes);
    await frame.click('[data-tab="explorer"]');
    await frame.waitForSelector('[data-testid="filters"]');
    await frame.fill('input[name="from"]', "2020-01-01T00:00");
    await frame.fill('input[name="to"]', "2020-02-01T00:00");
    await frame.click('[data-testid="filters"] button[type="submit"]');
    await frame.waitForSelector('[data-testid="entries"][aria-busy="false"] tbody tr');

    // The console runs in its own renderer (another site than the Zendesk page): its heap, ArrayBuffers included.
    const cdp = await page.context().newCDPSession(frame);
    const heap = async () => {
      await cdp.send("HeapProfiler.collectGarbage");
      const usage = (await cdp.send("Runtime.getHeapUsage")) as { usedSize: number; backingStorageSize?: number };
      return usage.usedSize + (usage.backingStorageSize ?? 0);
    };
    const bodyBytesRead = () => frame.evaluate(() => (window as unknown as { bodyBytesRead: number }).bodyBytesRead);
    const heapBefore = await heap();
    const readBefore = await bodyBytesRead();
    const download = page.waitForEvent("download");
    await frame.click('[data-testid="export"] button:first-child');
    const file = await download;
    await frame.waitForSelector('[data-testid="export-progress"][data-finished="true"]', { timeout: 110_000 });

    const path = await file.path();
    const size = statSync(path).size;
    const text = readFileSync(path, "utf8");
    expect(text.match(/bulk entry \d+/g)).toHaveLength(ROWS);
    expect(await frame.getAttribute('[data-testid="export-progress"]', "data-done")).toBe(String(ROWS));
    expect(await frame.getAttribute('[data-testid="export-progress"]', "data-total")).toBe(String(ROWS));
    expect(size).toBeGreaterThan(5_000_000);
    // The page read only the link and the progress polls, a few kilobytes, never the file's bytes.
    const read = (await bodyBytesRead()) - readBefore;
    expect(read, `the page's scripts read ${read} bytes for a ${size}-byte file`).toBeLessThan(50_000);
    expect((await heap()) - heapBefore).toBeLessThan(size / 4);
    await cdp.detach();
    await page.close();
  });

  it("shows a support agent only what they may open: no agent filter, no per-agent chart, no one else's entries", async () => {
    const { page, frame } = await openConsole("9002", "Europe/Berlin");
    // The role as the sidebar names it, not its key (support_full).
    expect(await frame.textContent('[data-testid="who"]')).toBe("sam.support@steward-demo.test · Support");
    expect(await frame.$('[data-testid="chart-agents"]')).toBeNull();
    await frame.click('[data-tab="explorer"]');
    await frame.waitForSelector('[data-testid="entries"] tbody tr');
    expect(await frame.$('input[name="actor"]')).toBeNull();
    const tickets = await frame.$$eval('[data-testid="entries"] td[data-col="ticket"]', (tds) => tds.map((t) => t.textContent));
    expect(tickets).not.toContain("#1002");
    expect(tickets).toContain("#1001");
    await page.close();
  });
});
