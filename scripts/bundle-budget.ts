import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/**
 * `npm run budget`: each page's JS + CSS must stay within 40 KiB gzipped: the sidebar (index.html,
 * loads on every ticket) and the team-lead console (console.html, nav_bar). A page counts every asset
 * it loads, including the chunk both share; the sidebar also counts the first-view strings of one
 * language (strings-core-<lang>, the largest of them: every ticket view loads its agent's before the
 * first paint). The chunks no page loads up front are listed apart, not budgeted. Prints each file's raw
 * and gzip size; exits 1 over budget. Reads the built app (npm run build:app).
 */
export const BUDGET_GZIP_BYTES = 40 * 1024;

/** The built pages and their budgets. */
export const PAGES = ["index.html", "console.html"] as const;

export interface AssetSize {
  file: string;
  raw: number;
  gzip: number;
}

/** The JS and CSS files a built page loads (scripts, module preloads, stylesheets under assets/). */
export function pageAssets(distDir: string, page: string): string[] {
  const html = readFileSync(join(distDir, page), "utf8");
  const files = [...html.matchAll(/(?:src|href)="[^"]*?\/assets\/([^"/]+\.(?:js|css))"/g)].map((m) => m[1] as string);
  return [...new Set(files)].sort();
}

function sizeOf(distDir: string, file: string): AssetSize {
  const bytes = readFileSync(join(distDir, "assets", file));
  return { file: join("assets", file), raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

/** Each language's first-view strings, which the sidebar loads (its agent's language only) before its first paint. */
export const isFirstViewStrings = (file: string) => /^strings-core-[a-z]+-[\w-]+\.js$/.test(file);

/** Sizes of what one page loads (default: the sidebar): its own files, and for the sidebar the largest language's first-view strings. */
export function measureAssets(distDir: string, page: string = "index.html"): AssetSize[] {
  const files = readdirSync(join(distDir, "assets"));
  const wanted = new Set(pageAssets(distDir, page));
  const own = files.filter((f) => wanted.has(f)).sort().map((f) => sizeOf(distDir, f));
  if (page !== "index.html") return own;
  const strings = files.filter(isFirstViewStrings).map((f) => sizeOf(distDir, f)).sort((a, b) => b.gzip - a.gzip);
  return strings[0] ? [...own, strings[0]] : own;
}

/**
 * Chunks the sidebar fetches after its first paint on every ticket view with a session (the settings,
 * approvals and impersonation cards below the fold, and what they import): not in the budget, which is
 * the first paint's, but reported with a total so the full cost of a ticket view is said. A browser test
 * (zendesk-app/test/previews.test.ts) checks this list against what a ticket view really loads.
 */
export const AFTER_FIRST_PAINT = ["SettingsCard", "ApprovalsCard", "ImpersonationCard", "useTicketApprovals", "runAction"] as const;
export const chunkName = (file: string) => file.replace(/^assets\//, "").replace(/-[\w-]{8}\.(js|css|json)$/, "");

/** The JS and JSON no page loads up front: chunks loaded on demand or after the first paint, and other languages' first-view strings. */
export function measureDeferred(distDir: string): AssetSize[] {
  const upFront = new Set(PAGES.flatMap((page) => measureAssets(distDir, page).map((s) => s.file)));
  return readdirSync(join(distDir, "assets"))
    .filter((f) => /\.(js|json)$/.test(f) && !upFront.has(join("assets", f)))
    .sort()
    .map((f) => sizeOf(distDir, f));
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`.padStart(10);

/** One page's report lines; false when over budget. */
function report(page: string, sizes: AssetSize[]): boolean {
  const total = sizes.reduce((sum, s) => ({ raw: sum.raw + s.raw, gzip: sum.gzip + s.gzip }), { raw: 0, gzip: 0 });
  const width = Math.max(...sizes.map((s) => s.file.length), 5);
  const lines = [`${page}`, `${"file".padEnd(width)}  ${"raw".padStart(10)}  ${"gzip".padStart(10)}`];
  for (const s of sizes) lines.push(`${s.file.padEnd(width)}  ${kib(s.raw)}  ${kib(s.gzip)}`);
  lines.push(`${"total".padEnd(width)}  ${kib(total.raw)}  ${kib(total.gzip)}   budget ${kib(BUDGET_GZIP_BYTES).trim()} gzipped`);
  process.stdout.write(`${lines.join("\n")}\n`);
  if (total.gzip > BUDGET_GZIP_BYTES) {
    process.stderr.write(`${page}: over budget by ${(total.gzip - BUDGET_GZIP_BYTES).toLocaleString()} bytes gzipped.\n`);
    return false;
  }
  process.stdout.write(`${page}: within budget, ${(BUDGET_GZIP_BYTES - total.gzip).toLocaleString()} bytes to spare.\n\n`);
  return true;
}

function main(): void {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const dist = process.argv[2] ?? join(root, "zendesk-app", "dist");
  let ok = true;
  for (const page of PAGES) {
    let sizes: AssetSize[];
    try {
      sizes = measureAssets(dist, page);
    } catch {
      process.stderr.write(`No built ${page} in ${relative(root, dist) || dist}: run npm run build:app first.\n`);
      process.exit(1);
    }
    if (sizes.length === 0) {
      process.stderr.write(`The built ${page} loads no JS or CSS files.\n`);
      process.exit(1);
    }
    ok = report(page, sizes) && ok;
  }
  // Not in the budget, but said: what is fetched later (on demand, after the first paint, or by agents in another language).
  const deferred = measureDeferred(dist);
  const width = Math.max(...deferred.map((s) => s.file.length), 5);
  const afterPaint = deferred.filter((s) => (AFTER_FIRST_PAINT as readonly string[]).includes(chunkName(s.file)));
  process.stdout.write("Sidebar, fetched after the first paint on every ticket view (not in the budget):\n");
  for (const s of afterPaint) process.stdout.write(`${s.file.padEnd(width)}  ${kib(s.raw)}  ${kib(s.gzip)}\n`);
  const firstView = measureAssets(dist, "index.html").reduce((n, s) => n + s.gzip, 0);
  const later = afterPaint.reduce((n, s) => n + s.gzip, 0);
  process.stdout.write(`${"after first paint".padEnd(width)}  ${"".padStart(10)}  ${kib(later)}   a whole ticket view: ${kib(firstView + later).trim()} gzipped\n\n`);
  process.stdout.write("On demand (an opened form, the history tab, the picker) or another language's strings:\n");
  for (const s of deferred.filter((d) => !afterPaint.includes(d))) process.stdout.write(`${s.file.padEnd(width)}  ${kib(s.raw)}  ${kib(s.gzip)}\n`);
  if (!ok) process.exit(1);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
