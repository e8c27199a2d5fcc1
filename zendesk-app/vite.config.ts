import { fileURLToPath } from "node:url";
import preact from "@preact/preset-vite";
import { defineConfig, type Plugin } from "vite";
import { usedGardenOnly } from "./gardenTrim.js";
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
 * Two pages, both served by Steward at their signed-URL locations: the sidebar (index.html, POST
 * /app) and the team-lead console (console.html, POST /console, nav_bar). Assets of both live under
 * /app/assets. Built with `npm run build:app` from the repository root.
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/app/",
  plugins: [pureSharedSchemas(), builtInPromiseForZaf(), usedGardenOnly(), stringsPlugin(), preact({ devToolsEnabled: false, prefreshEnabled: false })],
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
