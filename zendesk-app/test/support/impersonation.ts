import type { Frame, Page } from "playwright-core";

/** Starts View as customer from the card with this reason, closes the product tab it opens, and gives the live session's id. */
export async function startFrom(page: Page, frame: Frame, reason: string): Promise<string> {
  await frame.waitForSelector('[data-testid="imp-form"]');
  await frame.fill("#imp-reason", reason);
  const opened = page.context().waitForEvent("page");
  await frame.click('[data-testid="imp-start"]');
  await (await opened).close();
  const live = await frame.waitForSelector('[data-testid="imp-live"]');
  return (await live.getAttribute("data-sid")) ?? "";
}
