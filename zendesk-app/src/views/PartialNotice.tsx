import type { RequesterContext } from "../../../shared/schemas/context";
import { t, tOr } from "../i18n";
import { Notice } from "./parts";

const partNames = ["identity", "account", "billing", "activity", "audit"] as const;

/** One line at the top when a provider failed: the rest of the context is still shown below. */
export function PartialNotice({ context }: { context: RequesterContext }) {
  const failed = partNames.flatMap((name) => {
    const part = context[name];
    return part.status === "error" ? [`${t(`part.${name}`)} (${part.error.provider})`] : [];
  });
  if (failed.length === 0) return null;
  return (
    <Notice tone="warning" testId="partial-notice">
      {t("partial.notice", { parts: failed.join(", ") })}
    </Notice>
  );
}

/** Actions on this account whose outcome is not known yet: Steward is settling them with the provider; new writes wait. */
export function UnresolvedNotice({ context }: { context: RequesterContext }) {
  const all = context.unresolvedOperations ?? [];
  const names = (ops: typeof all) => ops.map((o) => tOr(`action.${o.action}`, o.action)).join(", ");
  // Still being checked by the reconciler, or given up on and waiting for operations: different next steps.
  const open = all.filter((o) => o.status !== "needs_review");
  const review = all.filter((o) => o.status === "needs_review");
  if (all.length === 0) return null;
  return (
    <>
      {open.length > 0 && (
        <Notice tone="warning" testId="unresolved-notice">
          {t("unresolved.notice", { actions: names(open) })}
        </Notice>
      )}
      {review.length > 0 && (
        <Notice tone="warning" testId="review-notice">
          {t("review.notice", { actions: names(review) })}
        </Notice>
      )}
    </>
  );
}
