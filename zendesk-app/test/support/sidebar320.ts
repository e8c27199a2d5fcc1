import type { Selectable } from "kysely";
import type { Frame, Page } from "playwright-core";
import type { UsersTable } from "../../../server/src/db/schema.js";
import { afterAll, beforeAll, expect, vi } from "vitest";
import { launchChromium, sidebarFrame, type TestBrowser } from "./browser.js";
import { buildSidebar, startSteward, type StewardUnderTest } from "./steward.js";

const WAIT_MS = 45_000;

export interface Sidebar320 {
  readonly steward: StewardUnderTest;
  /** Opens a demo ticket in the local Zendesk page with the sidebar at Zendesk's 320 px, once its actions are loaded. */
  openTicket(ticketId: number, agent: string, locale: string, options?: { requesterLocale?: string; ready?: string }): Promise<{ page: Page; frame: Frame }>;
  /** The demo user who raised a ticket. */
  requesterOf(ticketId: number): Promise<Selectable<UsersTable>>;
}

/**
 * The browser suites' shared set-up (headline, resilience, a11y): a built sidebar, a real Steward on
 * PGlite with demo data, Chromium, registered as the file's beforeAll/afterAll.
 */
export function sidebar320(env: Record<string, string> = {}): Sidebar320 {
  let app: Awaited<ReturnType<typeof buildSidebar>>;
  let browser: TestBrowser;
  let steward: StewardUnderTest;
  vi.setConfig({ testTimeout: 120_000, hookTimeout: 240_000 });
  beforeAll(async () => {
    browser = await launchChromium();
    app = await buildSidebar();
    steward = await startSteward({ appDir: app.dir, env });
  });
  afterAll(async () => {
    await browser?.close();
    await steward?.close();
    app?.remove();
  });
  return {
    get steward() {
      return steward;
    },
    async openTicket(ticketId, agent, locale, options = {}) {
      const page = await browser.newPage();
      page.setDefaultTimeout(WAIT_MS);
      await page.goto(`${steward.zendeskUrl}?ticket=${ticketId}&agent=${agent}&locale=${locale}&requesterLocale=${options.requesterLocale ?? "en-US"}`);
      // Zendesk's sidebar width. (A 320 px page viewport would not narrow the app's frame, only scroll the
      // host page, and clicks right after a full-page screenshot of a scrolled page can miss.)
      const frame = await sidebarFrame(page, WAIT_MS);
      // Set once the page has put the sidebar in place (it replaces the iframe as the ticket opens, and a width set
      // on the one before is lost), then seen from inside the app.
      await page.evaluate(() => ((document.getElementById("sidebar") as HTMLIFrameElement).style.width = "320px"));
      await expect.poll(() => frame.evaluate(() => window.innerWidth), { timeout: WAIT_MS }).toBe(320);
      await frame.waitForSelector(options.ready ?? '[data-testid="actions"][data-availability="server"]');
      return { page, frame };
    },
    async requesterOf(ticketId) {
      const db = steward.deps.database.db;
      const ticket = await db.selectFrom("demo_tickets").selectAll().where("id", "=", ticketId).executeTakeFirstOrThrow();
      return db.selectFrom("users").selectAll().where("id", "=", ticket.requester_external_id as string).executeTakeFirstOrThrow();
    },
  };
}
