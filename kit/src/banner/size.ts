import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

/** The banner ships to every page of the product: it stays under 4 KiB gzipped. */
export const BANNER_BUDGET_BYTES = 4096;

export function bannerSize(): { raw: number; gzip: number } {
  const source = readFileSync(new URL("./banner.js", import.meta.url));
  return { raw: source.length, gzip: gzipSync(source, { level: 9 }).length };
}
