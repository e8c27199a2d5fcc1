/**
 * Spellings one slip away from what the agent typed: two neighbouring letters swapped ("jhon" →
 * "john") or one letter too many ("johhn" → "john"). Trigrams miss these on short words, where one
 * swap breaks most of the word's trigrams, so search looks the variants up as exact prefixes.
 */
export const TYPO_MIN_LENGTH = 3;
export const TYPO_MAX_LENGTH = 24;

export function typoVariants(word: string): string[] {
  const chars = [...word];
  if (chars.length < TYPO_MIN_LENGTH || chars.length > TYPO_MAX_LENGTH) return [];
  const variants = new Set<string>();
  for (let i = 0; i + 1 < chars.length; i++) {
    if (chars[i] === chars[i + 1]) continue;
    const swapped = [...chars];
    [swapped[i], swapped[i + 1]] = [chars[i + 1] as string, chars[i] as string];
    variants.add(swapped.join(""));
  }
  // Dropping a letter from a 3-4 letter word leaves too little to be a meaningful prefix.
  if (chars.length >= 5) {
    for (let i = 0; i < chars.length; i++) variants.add([...chars.slice(0, i), ...chars.slice(i + 1)].join(""));
  }
  variants.delete(word);
  return [...variants];
}
