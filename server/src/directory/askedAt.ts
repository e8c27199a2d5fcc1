/**
 * For each answer of the product: when Steward sent its request (Steward's clock; with retries, the
 * attempt that was answered, except for a write: the first attempt under its key, whose answer a later
 * one may get replayed). The cache orders answers by it (mirror.ts). The answer is the contract's
 * object, with no field for it, so the HTTP directory notes it here beside the object.
 */
const askedAt = new WeakMap<object, Date>();

export function noteAsked(answer: object, at: Date): void {
  askedAt.set(answer, at);
}

/**
 * The earliest of the answers' send times (one read's answers are asked together); `fallback` for an
 * answer not noted (a port other than the HTTP one, which is never cached).
 */
export function askedAtOf(answers: readonly object[], fallback: Date): Date {
  const times = answers.map((answer) => askedAt.get(answer)?.getTime() ?? fallback.getTime());
  return times.length ? new Date(Math.min(...times)) : fallback;
}
