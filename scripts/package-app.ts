import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { logoPng } from "./logoPng.js";
import { validateManifest } from "./manifestRules.js";

/**
 * `npm run package:app`: writes zendesk-app/package/ holding only what Zendesk needs (manifest,
 * translations, icons) plus a .zcliignore, so `zcli apps:package zendesk-app/package` zips nothing
 * else. The sidebar itself is served by Steward at the manifest's signed location URL.
 */
const root = fileURLToPath(new URL("..", import.meta.url));
export const packageDir = join(root, "zendesk-app", "package");
/** The location icons (SVG) copied into the package's assets/. */
export const iconsDir = join(root, "zendesk-app", "icons");

export function readAppSources(): { manifest: unknown; translations: Record<string, unknown> } {
  const manifest: unknown = JSON.parse(readFileSync(join(root, "manifest.json"), "utf8"));
  const translations = Object.fromEntries(
    readdirSync(join(root, "translations"))
      .filter((f) => f.endsWith(".json"))
      .map((f) => [f.replace(/\.json$/, ""), JSON.parse(readFileSync(join(root, "translations", f), "utf8")) as unknown]),
  );
  return { manifest, translations };
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)).map((f) => `${e.name}/${f}`) : [e.name]));
}

/** Validates the manifest, then writes the package folder; returns its files (relative paths, sorted). */
export function writeAppPackage(out: string, stewardUrl: string): string[] {
  const { manifest, translations } = readAppSources();
  const problems = validateManifest(manifest, translations, readdirSync(iconsDir).map((f) => `assets/${f}`));
  if (problems.length > 0) throw new Error(`manifest.json does not meet Zendesk's rules:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, "translations"), { recursive: true });
  mkdirSync(join(out, "assets"), { recursive: true });
  writeFileSync(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const [locale, strings] of Object.entries(translations)) writeFileSync(join(out, "translations", `${locale}.json`), `${JSON.stringify(strings, null, 2)}\n`);
  // Zendesk's listing sizes: logo.png 320×320, logo-small.png 128×128.
  writeFileSync(join(out, "assets", "logo.png"), logoPng(320));
  writeFileSync(join(out, "assets", "logo-small.png"), logoPng(128));
  // Icon-only locations (nav_bar, top_bar) show assets/icon_<location>.svg.
  for (const icon of readdirSync(iconsDir).filter((f) => /^icon_[a-z_]+\.svg$/.test(f))) writeFileSync(join(out, "assets", icon), readFileSync(join(iconsDir, icon)));
  // For `zcli apps:server zendesk-app/package`: the settings a local install uses (never zipped).
  writeFileSync(join(out, "zcli.apps.config.json"), `${JSON.stringify({ parameters: { steward_url: stewardUrl.replace(/\/$/, "") } }, null, 2)}\n`);
  writeFileSync(join(out, ".zcliignore"), ["zcli.apps.config.json", "node_modules/**", "tmp/**", "*.log", ""].join("\n"));
  return listFiles(out).sort();
}

function main(): void {
  if (process.argv.includes("--help")) {
    process.stdout.write(
      "usage: npm run package:app -- [--steward-url=URL]\n\nWrites zendesk-app/package/ (manifest, translations, icons, .zcliignore) for zcli. --steward-url (or STEWARD_URL)\nis the steward_url setting `zcli apps:server` uses locally (default http://localhost:3000).\n",
    );
    return;
  }
  const stewardUrl = process.argv.find((a) => a.startsWith("--steward-url="))?.split("=")[1] ?? process.env.STEWARD_URL ?? "http://localhost:3000";
  try {
    const files = writeAppPackage(packageDir, stewardUrl);
    process.stdout.write(`Wrote ${relative(root, packageDir)}/ (steward_url for zcli apps:server: ${stewardUrl}):\n${files.map((f) => `  ${f}`).join("\n")}\n`);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
