import type { DiffLine } from "../../../shared/schemas/console.js";

/** Every leaf of a JSON value under its dotted path (array items as [i]); empty objects and arrays are leaves. */
function leaves(value: unknown, path: string, out: Map<string, unknown>): Map<string, unknown> {
  if (Array.isArray(value) && value.length > 0) value.forEach((v, i) => leaves(v, `${path}[${i}]`, out));
  else if (typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) leaves(v, path ? `${path}.${k}` : k, out);
  } else out.set(path, value);
  return out;
}

/**
 * What changed between an entry's before and after: only the leaves that differ. `effects` in
 * before is the preview the agent confirmed, not state, so it is left out of the comparison.
 */
export function diffEntry(before: unknown, after: unknown): DiffLine[] {
  const state = before && typeof before === "object" && !Array.isArray(before) ? Object.fromEntries(Object.entries(before).filter(([k]) => k !== "effects")) : before;
  const a = leaves(state ?? null, "", new Map());
  const b = leaves(after ?? null, "", new Map());
  if (before === null) a.clear();
  if (after === null) b.clear();
  const lines: DiffLine[] = [];
  for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const inBefore = a.has(path);
    const inAfter = b.has(path);
    const was = a.get(path);
    const now = b.get(path);
    if (inBefore && inAfter && JSON.stringify(was) === JSON.stringify(now)) continue;
    lines.push({ path: path || "(value)", change: !inBefore ? "added" : !inAfter ? "removed" : "changed", before: inBefore ? was : null, after: inAfter ? now : null });
  }
  return lines;
}
