#!/usr/bin/env node
// `npx steward <subcommand>`: the same CLI as `npm run steward --`. From a checkout with dev
// dependencies it runs the TypeScript source through tsx (never a stale build); an install without
// them (npm ci --omit=dev, the image) runs the build in dist/.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const source = `${root}server/src/cli/steward.ts`;
const built = `${root}dist/server/src/cli/steward.js`;

function tsxCli() {
  try {
    return createRequire(`${root}package.json`).resolve("tsx/cli");
  } catch {
    return null;
  }
}

const tsx = existsSync(source) ? tsxCli() : null;
const entry = tsx ? [tsx, source] : existsSync(built) ? ["--enable-source-maps", built] : null;
if (!entry) {
  process.stderr.write("steward: neither tsx (npm install) nor a build (npm run build) is here\n");
  process.exit(1);
}
const run = spawnSync(process.execPath, [...entry, ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(run.status ?? 1);
