import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { systemActor } from "../../server/src/actor.js";
import { registerProduct } from "../../server/src/impersonation/products.js";
import { freePort } from "../../server/test/support/stewardProcess.js";
import { launchChromium, screenshot, sidebarFrame, type TestBrowser } from "./support/browser.js";
import { buildSidebar, startSteward, type StewardUnderTest } from "./support/steward.js";

/**
 * "View as customer" end to end in Chromium: the sidebar in the local Zendesk page starts a read-only
 * session, the demo product (its own process, another origin) opens in a new tab with the banner and
 * its countdown, a write is refused, End in the banner ends it, the product shows "ended", and the
 * sidebar's ticket history shows the start, the events and the end.
 */
vi.setConfig({ testTimeout: 180_000, hookTimeout: 240_000 });
// Ports the OS picks at start (fixed ones in the ephemeral range can be held by any outgoing connection).
let STEWARD_PORT = 0;
let PRODUCT_PORT = 0;
const WAIT_MS = 45_000;

let app: Awaited<ReturnType<typeof buildSidebar>>;
let browser: TestBrowser;
let steward: StewardUnderTest;
let product: ChildProcess;

beforeAll(async () => {
  STEWARD_PORT = await freePort();
  PRODUCT_PORT = await freePort();
  browser = await launchChromium();
  app = await buildSidebar();
  steward = await startSteward({ appDir: app.dir, port: STEWARD_PORT, env: { PUBLIC_URL: `http://127.0.0.1:${STEWARD_PORT}`, DEMO_PRODUCT_PORT: "0" } });
  const registered = await registerProduct(steward.deps.database.db, steward.deps.clock, { id: "prd_e2e", name: "Demo product", url: `http://localhost:${PRODUCT_PORT}`, actor: systemActor("test") });
  product = spawn(process.execPath, ["--import", "tsx", "examples/demo-product/src/main.ts"], {
    env: { ...process.env, PORT: String(PRODUCT_PORT), STEWARD_URL: `http://127.0.0.1:${STEWARD_PORT}`, STEWARD_PRODUCT_CREDENTIAL: `${registered.id}.${registered.secret}` },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const until = Date.now() + 30_000;
  while (Date.now() < until && !(await fetch(`http://127.0.0.1:${PRODUCT_PORT}/projects`).catch(() => null))) await new Promise((r) => setTimeout(r, 200));
});
afterAll(async () => {
  product?.kill("SIGTERM");
  await browser?.close();
  await steward?.close();
  app?.remove();
});

it("sidebar → Start → product tab with banner → refused write → End → ended page → history shows start, events, end", async () => {
  const page = await browser.newPage();
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(`${steward.zendeskUrl}?ticket=1002&agent=9002&locale=en-US`);
  const frame = await sidebarFrame(page, WAIT_MS);
  await frame.waitForSelector('[data-testid="imp-form"]');
  // A support agent is offered read-only only, capped at 30 minutes.
  expect(await frame.$$eval("#imp-mode option", (options) => options.map((o) => (o as HTMLOptionElement).value))).toEqual(["read_only"]);
  expect(await frame.getAttribute("#imp-minutes", "max")).toBe("30");
  await frame.fill("#imp-reason", "Customer says the project list is empty");
  const opened = page.context().waitForEvent("page");
  await frame.click('[data-testid="imp-start"]');
  const tab = await opened;
  tab.setDefaultTimeout(WAIT_MS);
  await tab.waitForURL(new RegExp(`localhost:${PRODUCT_PORT}/projects$`));
  await tab.waitForFunction(() => document.querySelector("steward-banner")?.shadowRoot?.getElementById("time")?.textContent?.startsWith("Ends in"));
  const banner = await tab.evaluate(() => {
    const root = document.querySelector("steward-banner")!.shadowRoot!;
    return { who: root.getElementById("who")!.textContent, mode: root.getElementById("mode")!.textContent, time: root.getElementById("time")!.textContent, region: root.querySelector('[role="region"]')?.getAttribute("aria-label"), live: root.querySelector('[aria-live="polite"]')?.textContent };
  });
  expect(banner.who).toMatch(/Viewing as .+ · agent Sam Support · ticket #1002/);
  expect(banner.mode).toBe("Read-only");
  // A 30-minute session with a 15-minute idle limit: the banner counts the idle limit and says so, with the latest end.
  expect(banner.time).toMatch(/^Ends in (?:(29|30):\d\d|(14|15):\d\d without activity in the product \(at the latest in (29|30):\d\d\))$/);
  expect(banner.region).toBe("Support session");
  expect(banner.live).toContain("ticket 1002");
  await screenshot(tab, "impersonation-01-product-with-banner");

  // The sidebar shows the live session with its countdown.
  await frame.waitForSelector('[data-testid="imp-live"]', { timeout: 15_000 });
  expect(await frame.textContent('[data-testid="imp-countdown"]')).toMatch(/Ends in \d+:\d\d/);

  await tab.fill('input[aria-label="Project name"]', "Renamed by support");
  await tab.click("#create-project");
  await tab.waitForSelector("#steward-refused");
  expect(await tab.textContent("#steward-refused")).toContain("read-only support session");
  await screenshot(tab, "impersonation-02-write-refused");

  await tab.goto(`http://localhost:${PRODUCT_PORT}/members`);
  await tab.waitForFunction(() => document.querySelector("steward-banner")?.shadowRoot?.getElementById("end"));
  await tab.evaluate(() => (document.querySelector("steward-banner")!.shadowRoot!.getElementById("end") as HTMLButtonElement).click());
  // The ended page is told why: the agent ended it with End.
  await tab.waitForURL(/\/steward\/ended\?reason=agent$/);
  expect(await tab.textContent("#steward-ended")).toContain("no longer viewing");
  await screenshot(tab, "impersonation-03-ended");

  // Back in the sidebar: the session is over and listed; the history shows start, events and end.
  await frame.waitForSelector('[data-testid="imp-past"] li[data-end-reason="agent"]', { timeout: 15_000 });
  await frame.click("#tab-history");
  await frame.waitForSelector('[data-testid="ticket-entries"] [data-action="impersonation.stop"]');
  const actions = await frame.$$eval('[data-testid="ticket-entries"] [data-action]', (items) => items.map((i) => i.getAttribute("data-action")));
  expect(actions).toContain("impersonation.start");
  expect(actions).toContain("impersonation.stop");
  expect(actions.filter((a) => a === "impersonation.event").length).toBeGreaterThanOrEqual(3);
  expect(await frame.$('[data-testid="ticket-entries"] [data-action="impersonation.event"] [data-badge="outcome-denied"]')).not.toBeNull();
  await screenshot(page, "impersonation-04-sidebar-history");
  await tab.close();
  await page.close();
});
