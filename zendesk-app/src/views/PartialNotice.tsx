import type { RequesterContext } from "../../../shared/schemas/context";
import { t } from "../i18n";
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
