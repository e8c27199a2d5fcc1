import type { Logger } from "../logger.js";
import { Problem, toProblem } from "../http/problem.js";
import { EffectUnknown, unknownEffectOf } from "./effectUnknown.js";

/**
 * Several provider calls in one action (block eight users in Auth0, then end the subscription in
 * Stripe) cannot be rolled back like a transaction. Each step says how to undo itself; when one
 * fails, the steps already done are undone, newest first, before the failure is reported, so the
 * action is all or nothing at the providers too.
 *
 * A Stripe write goes last and has no undo: its idempotency key derives from the agent's, so a retry
 * after an undone Stripe call would be answered from Stripe's cache without taking effect again.
 *
 * When the failing step may have taken effect (timeout, lost connection), or a step that cannot be
 * undone already happened, undoing would not bring back a known state: the action goes forward
 * instead, as an unknown outcome the reconciler completes by running the steps again. An undo whose
 * outcome is not known leaves the same: unknown, for the reconciler.
 */
export interface ProviderStep {
  /** What the step does, for logs and the error, e.g. "block usr_123". */
  label: string;
  run: () => Promise<unknown>;
  undo?: () => Promise<unknown>;
}

export async function runCompensated(steps: readonly ProviderStep[], options: { logger: Logger; transactional: boolean }): Promise<void> {
  const done: ProviderStep[] = [];
  for (const step of steps) {
    try {
      await step.run();
      done.push(step);
    } catch (err) {
      // Inside our own transaction (built-in adapters) the rollback undoes everything already.
      if (options.transactional) throw err;
      const irreversible = done.filter((s) => !s.undo).map((s) => s.label);
      const unknown = unknownEffectOf(err);
      if (unknown || irreversible.length) {
        const doneLabels = done.map((s) => s.label);
        throw new EffectUnknown(`${step.label} failed (${unknown ?? toProblem(err).detail ?? "error"})${doneLabels.length ? ` after ${doneLabels.join(", ")}` : ""}`, { cause: err });
      }
      if (done.length === 0) throw err;
      const notUndone: string[] = [];
      const undoUnknown: string[] = [];
      for (const previous of done.reverse()) {
        if (!previous.undo) continue;
        try {
          await previous.undo();
        } catch (undoErr) {
          options.logger.error({ err: undoErr, step: previous.label }, "could not undo a provider step after a failure");
          notUndone.push(previous.label);
          if (unknownEffectOf(undoErr)) undoUnknown.push(previous.label);
        }
      }
      if (notUndone.length === 0) throw err;
      // An undo whose own answer was lost may or may not have happened: no one can say what is left in place.
      if (undoUnknown.length) {
        const cause = toProblem(err);
        throw new EffectUnknown(`${step.label} failed (${cause.detail ?? cause.title}); undoing ${undoUnknown.join(", ")} has an outcome not known`, { cause: err });
      }
      const cause = toProblem(err);
      throw new Problem(502, "provider_partially_applied", "Provider change partly applied", `${step.label} failed (${cause.detail ?? cause.title}) and these steps could not be undone: ${notUndone.join(", ")}`, {
        failedStep: step.label,
        notUndone,
      });
    }
  }
}
