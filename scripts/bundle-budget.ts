import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/**
 * `npm run budget`: the sidebar's JS + CSS must stay within 40 KiB gzipped (it loads on every ticket).
 * Prints each file's raw and gzip size; exits 1 over budget. Reads the built app (npm run build:app).
 */
export const BUDGET_GZIP_BYTES = 40 * 1024;

export interface AssetSize {
  file: string;
  raw: number;
  gzip: number;
}

export function measureAssets(distDir: string): AssetSize[] {
  const assets = join(distDir, "assets");
  return readdirSync(assets)
    .filter((f) => f.endsWith(".js") || f.endsWith(".css"))
    .sort()
    .map((f) => {
      const bytes = readFileSync(join(assets, f));
      return { file: join("assets", f), raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
    });
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`.padStart(10);

function main(): void {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const dist = process.argv[2] ?? join(root, "zendesk-app", "dist");
  let sizes: AssetSize[];
  try {
    sizes = measureAssets(dist);
  } catch {
    process.stderr.write(`No built sidebar in ${relative(root, dist) || dist}: run npm run build:app first.\n`);
    process.exit(1);
  }
  if (sizes.length === 0) {
    process.stderr.write("The built sidebar has no JS or CSS files.\n");
    process.exit(1);
  }
  const total = sizes.reduce((sum, s) => ({ raw: sum.raw + s.raw, gzip: sum.gzip + s.gzip }), { raw: 0, gzip: 0 });
  const width = Math.max(...sizes.map((s) => s.file.length), 5);
  const lines = [`${"file".padEnd(width)}  ${"raw".padStart(10)}  ${"gzip".padStart(10)}`];
  for (const s of sizes) lines.push(`${s.file.padEnd(width)}  ${kib(s.raw)}  ${kib(s.gzip)}`);
  lines.push(`${"total".padEnd(width)}  ${kib(total.raw)}  ${kib(total.gzip)}   budget ${kib(BUDGET_GZIP_BYTES).trim()} gzipped`);
  process.stdout.write(`${lines.join("\n")}\n`);
  if (total.gzip > BUDGET_GZIP_BYTES) {
    process.stderr.write(`Over budget by ${(total.gzip - BUDGET_GZIP_BYTES).toLocaleString()} bytes gzipped.\n`);
    process.exit(1);
  }
  process.stdout.write(`Within budget: ${(BUDGET_GZIP_BYTES - total.gzip).toLocaleString()} bytes to spare.\n`);
  // Not in the budget, but said: an agent in another language also fetches that language's strings once.
  for (const file of readdirSync(join(dist, "assets")).filter((f) => f.endsWith(".json"))) {
    const bytes = readFileSync(join(dist, "assets", file));
    process.stdout.write(`plus, for agents in that language only: assets/${file} ${kib(bytes.length).trim()} raw, ${kib(gzipSync(bytes, { level: 9 }).length).trim()} gzipped\n`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
