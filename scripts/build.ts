import { cpSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";

/**
 * `npm run build`: compiles the server (and shared/) to dist/ and copies beside it what it reads at run
 * time (the built sidebar, the demo host script), so `npm run start:prod` runs with production
 * dependencies only — no tsx, no Vite.
 */
const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const bin = (name: string) => join(root, "node_modules", ".bin", name);

if (process.argv.includes("--help")) {
  process.stdout.write("usage: npm run build\n\nCompiles server/src and shared/ to dist/ (tsc -p tsconfig.build.json), builds the sidebar with Vite\nand copies it to dist/zendesk-app/dist. Run the result with `npm run start:prod`.\n");
  process.exit(0);
}

const started = Date.now();
rmSync(dist, { recursive: true, force: true });
execFileSync(bin("vite"), ["build", "--config", "zendesk-app/vite.config.ts", "--logLevel", "warn"], { cwd: root, stdio: "inherit" });
execFileSync(bin("tsc"), ["-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
// Files the compiled server reads next to its own modules (import.meta.url-relative).
cpSync(join(root, "server/src/demo/zendeskHost.js"), join(dist, "server/src/demo/zendeskHost.js"));
cpSync(join(root, "zendesk-app/dist"), join(dist, "zendesk-app/dist"), { recursive: true });
cpSync(join(root, "zendesk-app/icons"), join(dist, "zendesk-app/icons"), { recursive: true });
if (!existsSync(join(dist, "server/src/main.js"))) throw new Error("build produced no dist/server/src/main.js");
process.stdout.write(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s — run it with: npm run start:prod\n`);
