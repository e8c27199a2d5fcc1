import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Frame, type Page } from "playwright-core";

/** Debian's Chromium; Playwright's own browser download cannot work on these machines. */
export const CHROMIUM = process.env.STEWARD_CHROMIUM ?? "/usr/bin/chromium";

export const SCREENSHOTS = join(process.cwd(), "test-output", "screenshots");

export interface TestBrowser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Chromium with an ordinary (non-incognito) profile, as agents use: third-party storage is allowed,
 * so the sidebar (another site than the Zendesk page) can keep per-ticket choices in localStorage.
 * Fails loudly (never skips) when Chromium is missing, saying how to install it.
 */
export async function launchChromium(viewport = { width: 1280, height: 1400 }): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: the sidebar browser tests need it. ` +
        `Install it with "apt-get install -y chromium" (Debian/Ubuntu), or point STEWARD_CHROMIUM at a Chrome/Chromium binary.`,
    );
  }
  const profile = mkdtempSync(join(tmpdir(), "steward-chromium-"));
  mkdirSync(join(profile, "Default"));
  // Chrome's default outside incognito: cookies and site data allowed for embedded sites too.
  writeFileSync(join(profile, "Default", "Preferences"), JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    viewport,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return {
    context,
    newPage: () => context.newPage(),
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The sidebar's frame (cross-origin, so reached through Playwright rather than the host page). */
export async function sidebarFrame(page: Page, timeout = 15_000): Promise<Frame> {
  const started = Date.now();
  for (;;) {
    const frame = page.frames().find((f) => !f.isDetached() && f.name() === "steward-sidebar" && f.url().includes("/app?"));
    if (frame) return frame;
    if (Date.now() - started > timeout) throw new Error("the Steward sidebar frame did not load");
    await page.waitForTimeout(50);
  }
}
