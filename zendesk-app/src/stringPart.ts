/**
 * Which part of the sidebar's strings a key ships in (zendesk-app/stringParts.ts builds the parts):
 * "more" for what only an opened action form, its preview, the suggested reply after it and the history
 * tab show (loaded with them, on demand); "core" for the rest (loaded before the first paint).
 */
export const onDemandPrefixes: readonly string[] = ["effect", "preview", "field", "option", "note", "notice", "unit", "reply", "audit", "outcome"];

export function partOf(key: string): "core" | "more" {
  return onDemandPrefixes.includes(key.split(".")[0] ?? "") ? "more" : "core";
}
