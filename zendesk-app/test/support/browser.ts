import { existsSync } from "node:fs";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Frame, type Page } from "playwright-core";

/** Debian's Chromium; Playwright's own browser download cannot work on these machines. */
export const CHROMIUM = process.env.STEWARD_CHROMIUM ?? "/usr/bin/chromium";

export const SCREENSHOTS = join(process.cwd(), "test-output", "screenshots");

/** Fails loudly (never skips) when Chromium is missing, saying how to install it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: the sidebar browser tests need it. ` +
        `Install it with "apt-get install -y chromium" (Debian/Ubuntu), or point STEWARD_CHROMIUM at a Chrome/Chromium binary.`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
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
