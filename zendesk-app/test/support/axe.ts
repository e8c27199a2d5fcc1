import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Frame } from "playwright-core";

/** axe-core's browser build, put into the sidebar's frame by the test (the app never ships it). */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * The WCAG 2.x A/AA rules axe-core checks, run on the frame's whole document as it is now: every
 * violation with the elements it names (empty when the view passes).
 */
export async function axeViolations(frame: Frame): Promise<AxeViolation[]> {
  // Evaluated through the debugging protocol, so the page's CSP (script-src 'self') does not apply.
  if (!(await frame.evaluate(() => "axe" in window))) await frame.evaluate(AXE_SOURCE);
  return frame.evaluate(async () => {
    // Colours are judged once Garden's hover/focus transitions have finished, not half-way through one. Two frames
    // first: a transition set off by the last click or focus move starts only when the next style pass runs.
    await new Promise((frame) => requestAnimationFrame(() => requestAnimationFrame(frame)));
    await Promise.all(document.getAnimations().map((a) => a.finished.catch(() => undefined)));
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }, resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) }));
  });
}
