import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { validateManifest } from "../../scripts/manifestRules.js";
import { iconsDir, readAppSources, writeAppPackage } from "../../scripts/package-app.js";

/** The Zendesk app package: manifest.json and translations/ at the repository root, checked against Zendesk's rules. */
const { manifest, translations } = readAppSources();
type Manifest = Record<string, unknown> & { parameters: Record<string, unknown>[]; location: { support: { ticket_sidebar: Record<string, unknown>; nav_bar?: Record<string, unknown> } } };
const icons = readdirSync(iconsDir).map((f) => `assets/${f}`);
const copy = (): Manifest => structuredClone(manifest) as Manifest;

describe("manifest.json", () => {
  it("meets Zendesk's rules, with a signed ticket_sidebar at {{setting.steward_url}}/app", () => {
    expect(validateManifest(manifest, translations)).toEqual([]);
    const m = copy();
    expect(m.location.support.ticket_sidebar).toMatchObject({ url: "{{setting.steward_url}}/app", signed: true });
    expect(m.parameters.find((p) => p.name === "steward_url")).toMatchObject({ type: "url", required: true });
    expect(m.frameworkVersion).toBe("2.0");
  });

  it("has a signed nav_bar console at {{setting.steward_url}}/console, with its SVG icon in the package", () => {
    expect(validateManifest(manifest, translations, icons)).toEqual([]);
    expect(copy().location.support.nav_bar).toEqual({ url: "{{setting.steward_url}}/console", signed: true });
    const svg = readFileSync(join(iconsDir, "icon_nav_bar.svg"), "utf8");
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*viewBox="0 0 18 18"/);
    expect(svg).not.toMatch(/<script|on\w+=|href=/i); // an icon, nothing that runs or loads
    expect(validateManifest(manifest, translations, icons.filter((f) => !f.endsWith("icon_nav_bar.svg"))).join("\n")).toContain("location.support.nav_bar: needs its icon at assets/icon_nav_bar.svg");
    const unsigned = copy();
    (unsigned.location.support.nav_bar as Record<string, unknown>).url = "assets/console.html";
    expect(validateManifest(unsigned, translations).join("\n")).toContain("location.support.nav_bar: a signed location must be served by your own server");
  });

  it("has every locale's translations for the app name and each parameter label", () => {
    for (const [locale, strings] of Object.entries(translations)) {
      expect(validateManifest({ ...copy(), defaultLocale: locale }, translations), locale).toEqual([]);
      expect(strings, locale).toHaveProperty("app.description");
    }
  });

  const broken: [string, (m: Manifest) => void, string][] = [
    ["missing name", (m) => delete m.name, "name: required"],
    ["missing author email", (m) => delete (m.author as Record<string, unknown>).email, "author.email"],
    ["wrong framework version", (m) => (m.frameworkVersion = "1.0"), "frameworkVersion"],
    ["unknown location", (m) => ((m.location.support as Record<string, unknown>).ticket_sidebarr = "https://x.example"), "location.support.ticket_sidebarr: not a support location"],
    ["unknown product", (m) => ((m.location as Record<string, unknown>).guide = { ticket_sidebar: "https://x.example" }), "location.guide: unknown product"],
    ["http URL", (m) => (m.location.support.ticket_sidebar.url = "http://steward.example.com/app"), "must be https"],
    ["placeholder naming no parameter", (m) => (m.location.support.ticket_sidebar.url = "{{setting.other}}/app"), "names no parameter"],
    ["signed location served from assets/", (m) => (m.location.support.ticket_sidebar.url = "assets/index.html"), "signed location must be served by your own server"],
    ["unknown location option", (m) => (m.location.support.ticket_sidebar.height = "300px"), "ticket_sidebar.height: unknown option"],
    ["bad parameter type", (m) => (m.parameters[0] = { ...m.parameters[0], type: "password" }), "steward_url.type"],
    ["scopes on a non-secure parameter", (m) => m.parameters.push({ name: "api_token", type: "text", scopes: ["header"] }), "only secure parameters have scopes"],
    ["secure parameter without scopes", (m) => m.parameters.push({ name: "api_token", type: "text", secure: true }), "api_token.scopes: a secure parameter must say"],
    ["unknown scope", (m) => m.parameters.push({ name: "api_token", type: "text", secure: true, scopes: ["cookie"] }), '"cookie" is not one of'],
    ["default on a secure parameter", (m) => m.parameters.push({ name: "api_token", type: "text", secure: true, scopes: ["header"], default: "x" }), "a secure parameter must not have a default"],
    ["default on a hidden parameter", (m) => m.parameters.push({ name: "tenant", type: "hidden", default: "x" }), "a hidden parameter must not have a default"],
    ["secure setting in a location URL", (m) => (m.parameters[0] = { ...m.parameters[0], secure: true, scopes: ["url"] }), "is secure"],
    ["duplicate parameter", (m) => m.parameters.push({ ...m.parameters[0] }), "declared twice"],
    ["parameter without a translated label", (m) => m.parameters.push({ name: "region", type: "text" }), "app.parameters.region.label is required"],
    ["unknown top-level field", (m) => (m.locations = {}), "locations: not a manifest field"],
  ];
  it.each(broken)("refuses a manifest with %s", (_case, breakIt, expected) => {
    const m = copy();
    breakIt(m);
    const problems = validateManifest(m, translations);
    expect(problems.join("\n")).toContain(expected);
  });

  it("refuses a default locale without translations, or without app.name", () => {
    expect(validateManifest({ ...copy(), defaultLocale: "fr" }, translations).join("\n")).toContain("translations/fr.json: required");
    expect(validateManifest(copy(), { en: { app: { parameters: { steward_url: { label: "URL" } } } } }).join("\n")).toContain("app.name is required");
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

describe("npm run package:app", () => {
  const out = mkdtempSync(join(tmpdir(), "steward-package-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("writes only the manifest, translations, icons and zcli files", () => {
    const files = writeAppPackage(out, "http://localhost:3000/");
    expect(files).toEqual([".zcliignore", "assets/icon_nav_bar.svg", "assets/logo-small.png", "assets/logo.png", "manifest.json", "translations/de.json", "translations/en.json", "zcli.apps.config.json"]);
    expect(readFileSync(join(out, ".zcliignore"), "utf8")).toContain("zcli.apps.config.json");
    for (const [file, size] of [["logo.png", 320], ["logo-small.png", 128]] as const) {
      const png = readFileSync(join(out, "assets", file));
      expect(png.subarray(1, 4).toString("ascii"), file).toBe("PNG");
      expect([png.readUInt32BE(16), png.readUInt32BE(20)], file).toEqual([size, size]);
    }
    expect(JSON.parse(readFileSync(join(out, "zcli.apps.config.json"), "utf8"))).toEqual({ parameters: { steward_url: "http://localhost:3000" } });
  });

  it("is served by zcli apps:server (offline) with steward_url from zcli.apps.config.json", { timeout: 120_000 }, async () => {
    writeAppPackage(out, "http://localhost:3999");
    const port = await freePort();
    const zcli = spawn(join(process.cwd(), "node_modules", ".bin", "zcli"), ["apps:server", out, "--bind", "127.0.0.1", "--port", String(port)], { stdio: "pipe" });
    try {
      let body: { apps: { name: string; locations: unknown }[]; installations: { settings: Record<string, string>[] }[] } | undefined;
      for (let i = 0; i < 200 && !body; i++) {
        body = await fetch(`http://127.0.0.1:${port}/app.json`).then((r) => (r.ok ? r.json() : undefined), () => undefined);
        if (!body) await new Promise((r) => setTimeout(r, 300));
      }
      expect(body?.apps[0]).toMatchObject({ name: "Steward", locations: { support: { ticket_sidebar: { url: "{{setting.steward_url}}/app", signed: true }, nav_bar: { url: "{{setting.steward_url}}/console", signed: true } } } });
      expect(body?.installations[0]?.settings).toContainEqual({ steward_url: "http://localhost:3999" });
      const logo = await fetch(`http://127.0.0.1:${port}/0/assets/logo.png`);
      expect(logo.headers.get("content-type")).toBe("image/png");
      const icon = await fetch(`http://127.0.0.1:${port}/0/assets/icon_nav_bar.svg`);
      expect(icon.status).toBe(200);
      expect(await icon.text()).toContain("<svg");
    } finally {
      zcli.kill("SIGTERM");
    }
  });
});
