/** At most `max` UTF-16 units, ending in "…" when cut (never between the halves of a surrogate pair). */
export function clip(text: string, max: number): string {
  const trimmed = text.trim();
  if (trimmed.length <= max) return trimmed;
  const cut = /[\uD800-\uDBFF]/.test(trimmed[max - 2] ?? "") ? max - 2 : max - 1;
  return `${trimmed.slice(0, cut)}…`;
}
