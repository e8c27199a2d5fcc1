import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import preact from "@preact/preset-vite";
import { defineConfig, type Plugin } from "vite";
import { stringsChunkName, stringsPlugin } from "./stringParts.js";

const sharedDir = fileURLToPath(new URL("../shared/", import.meta.url));

/**
 * shared/ builds its zod schemas at module level next to the plain tables the sidebar uses
 * (actionRules, roleAtLeast). Marking those top-level schema calls pure lets zod drop out of the bundle.
 */
function pureSharedSchemas(): Plugin {
  return {
    name: "steward:pure-shared-schemas",
    enforce: "pre",
    transform(code, id) {
      if (!id.startsWith(sharedDir) || !id.endsWith(".ts")) return null;
      return { code: code.replace(/=\s*z\.(\w+)\(/g, "= /* @__PURE__ */ z.$1("), map: null };
    },
  };
}

/**
 * The ZAF SDK takes `window.Promise || require("./vendor/native-promise-only")`: the polyfill is dead code
 * in any browser that runs this ES2022 build, so it is replaced by the built-in Promise (2 KiB gzipped less).
 */
function builtInPromiseForZaf(): Plugin {
  const id = "\0steward:builtin-promise";
  return {
    name: "steward:builtin-promise-for-zaf",
    enforce: "pre",
    resolveId(source, importer) {
      return source.endsWith("/vendor/native-promise-only") && importer?.includes("zendesk_app_framework_sdk") ? id : null;
    },
    load(loading) {
      return loading === id ? "module.exports = Promise;" : null;
    },
  };
}

/**
 * Garden's css-variables declares 255 custom properties (--zd-*), of which the app's and Garden's own CSS
 * use a few dozen. The others are dead: dropped at build time. Used means named in a `var(--zd-…)` in
 * any CSS the pages import or in the app's source; a test checks every var() in the build is defined.
 */
function usedGardenVariablesOnly(): Plugin {
  const srcDir = fileURLToPath(new URL("src/", import.meta.url));
  const garden = fileURLToPath(new URL("../node_modules/@zendeskgarden/", import.meta.url));
  const sources = () => [
    ...(readdirSync(srcDir, { recursive: true }) as string[]).filter((f) => /\.(css|tsx?)$/.test(f)).map((f) => join(srcDir, f)),
    ...readdirSync(garden).filter((d) => d.startsWith("css-") && d !== "css-variables").map((d) => join(garden, d, "dist", "index.css")),
  ];
  return {
    name: "steward:used-garden-variables",
    transform(code, id) {
      if (!id.replace(/\\/g, "/").endsWith("@zendeskgarden/css-variables/dist/index.css")) return null;
      const used = new Set<string>();
      for (const file of sources()) for (const m of readFileSync(file, "utf8").matchAll(/var\(\s*(--zd-[\w-]+)/g)) used.add(m[1] as string);
      return { code: code.replace(/^\s*(--zd-[\w-]+)\s*:[^;]*;\n?/gm, (whole, name: string) => (used.has(name) ? whole : "")), map: null };
    },
  };
}

/**
 * Two pages, both served by Steward at their signed-URL locations: the sidebar (index.html, POST
 * /app) and the team-lead console (console.html, POST /console, nav_bar). Assets of both live under
 * /app/assets. Built with `npm run build:app` from the repository root.
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/app/",
  plugins: [pureSharedSchemas(), builtInPromiseForZaf(), usedGardenVariablesOnly(), stringsPlugin(), preact({ devToolsEnabled: false, prefreshEnabled: false })],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // Every browser Zendesk supports preloads modules itself; without the polyfill an older one only preloads less.
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: {
        index: fileURLToPath(new URL("index.html", import.meta.url)),
        console: fileURLToPath(new URL("console.html", import.meta.url)),
      },
      output: { chunkFileNames: (chunk) => stringsChunkName(chunk.facadeModuleId) ?? "assets/[name]-[hash].js" },
    },
  },
});
