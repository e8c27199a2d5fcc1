import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/**
 * `npm run budget`: each page's JS + CSS must stay within 40 KiB gzipped: the sidebar (index.html,
 * loads on every ticket) and the team-lead console (console.html, nav_bar). A page counts every asset
 * it loads, including the chunk both share. Prints each file's raw and gzip size; exits 1 over budget.
 * Reads the built app (npm run build:app).
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

/** Sizes of what one page loads (default: the sidebar). */
export function measureAssets(distDir: string, page: string = "index.html"): AssetSize[] {
  const assets = join(distDir, "assets");
  const wanted = new Set(pageAssets(distDir, page));
  return readdirSync(assets)
    .filter((f) => wanted.has(f))
    .sort()
    .map((f) => {
      const bytes = readFileSync(join(assets, f));
      return { file: join("assets", f), raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
    });
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
  // Not in the budget, but said: an agent in another language also fetches that language's strings once.
  for (const file of readdirSync(join(dist, "assets")).filter((f) => f.endsWith(".json"))) {
    const bytes = readFileSync(join(dist, "assets", file));
    process.stdout.write(`plus, for agents in that language only: assets/${file} ${kib(bytes.length).trim()} raw, ${kib(gzipSync(bytes, { level: 9 }).length).trim()} gzipped\n`);
  }
  if (!ok) process.exit(1);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
