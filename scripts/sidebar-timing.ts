import { benchArgs, wholeNumberArg } from "../server/bench/benchArgs.js";
import { launchChromium, sidebarFrame } from "../zendesk-app/test/support/browser.js";
import { buildSidebar, startSteward } from "../zendesk-app/test/support/steward.js";

/**
 * `npm run bench:sidebar`: time from the sidebar iframe's load (Zendesk's form POST to /app) to the
 * requester context painted, over 20 loads in the local Zendesk page with the real server. The app
 * marks `steward:context-painted` on the first frame after the context renders; its startTime is
 * measured from the iframe document's navigation start.
 */
const USAGE = `usage: npm run bench:sidebar -- [--loads N]

Time from the sidebar iframe's load to the requester context painted, in the local Zendesk page with the
real server and headless Chromium (/usr/bin/chromium); p50/p95 over --loads loads (default 20) after 2 warm-ups.`;
const values = benchArgs(USAGE, { loads: { type: "string", default: process.env.LOADS ?? "20" } });
const LOADS = wholeNumberArg("loads", values.loads);
const WARMUP = 2;
const TICKETS = [1001, 1002, 1003, 1004, 1006, 1007, 1008, 1009, 1011];

/** Milliseconds from the iframe's navigation start: page served, /api/context sent and answered, context painted. */
interface Stages {
  page: number;
  contextStart: number;
  contextEnd: number;
  painted: number;
}
const STAGES = `JSON.stringify((() => {
  const context = performance.getEntriesByType("resource").find((r) => r.name.includes("/api/context"));
  return {
    page: performance.getEntriesByType("navigation")[0].responseEnd,
    contextStart: context ? context.startTime : NaN,
    contextEnd: context ? context.responseEnd : NaN,
    painted: performance.getEntriesByName("steward:context-painted")[0].startTime,
  };
})())`;

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

async function main(): Promise<void> {
  const app = await buildSidebar();
  const steward = await startSteward({ appDir: app.dir });
  const browser = await launchChromium();
  const timings: Stages[] = [];
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(60_000);
    await page.goto(`${steward.zendeskUrl}?ticket=${TICKETS[0]}&agent=9002`);
    for (let i = 0; i < WARMUP + LOADS; i++) {
      const ticket = TICKETS[i % TICKETS.length] as number;
      if (i > 0) await page.click(`#tickets button[data-ticket="${ticket}"]`);
      await page.waitForFunction(`document.body.dataset.sidebarLoads === "${i + 1}"`);
      const guid = (await page.evaluate("document.body.dataset.sidebarGuid")) as string;
      let frame = await sidebarFrame(page, 60_000);
      while (!frame.url().includes(guid)) {
        await page.waitForTimeout(5);
        frame = await sidebarFrame(page, 60_000);
      }
      await frame.waitForFunction(`performance.getEntriesByName("steward:context-painted").length > 0`);
      const t = JSON.parse((await frame.evaluate(STAGES)) as string) as Stages;
      if (i >= WARMUP) timings.push(t);
      process.stdout.write(
        `${i < WARMUP ? "warm-up" : `load ${String(i - WARMUP + 1).padStart(2)}`}  ticket #${ticket}  painted ${t.painted.toFixed(0)} ms  (page ${t.page.toFixed(0)}, context request ${t.contextStart.toFixed(0)}→${t.contextEnd.toFixed(0)})\n`,
      );
    }
  } finally {
    await browser.close();
    await steward.close();
    app.remove();
  }
  const p = (key: keyof Stages, q: number) => percentile(timings.map((t) => t[key]).sort((a, b) => a - b), q);
  const painted = timings.map((t) => t.painted).sort((a, b) => a - b);
  process.stdout.write(
    `\nIframe load → context painted over ${painted.length} loads: p50 ${p("painted", 50).toFixed(1)} ms, p95 ${p("painted", 95).toFixed(1)} ms ` +
      `(min ${painted[0]?.toFixed(1)}, max ${painted[painted.length - 1]?.toFixed(1)})\n` +
      `  p50 stages: page served ${p("page", 50).toFixed(0)} ms, /api/context sent ${p("contextStart", 50).toFixed(0)} ms, answered ${p("contextEnd", 50).toFixed(0)} ms, painted ${p("painted", 50).toFixed(0)} ms\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
