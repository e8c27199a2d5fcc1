import { appendFileSync } from "node:fs";

/** Module hooks for importTrace.mjs: one line per resolved import, the URL the process actually loads. */
let file = "";

export function initialize(data) {
  file = data.file;
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  // Synchronous: the process may exit right after printing its usage.
  appendFileSync(file, `${resolved.url}\n`);
  return resolved;
}
