import { actionRules } from "../../../shared/actions";
import type { ActionAvailability } from "../../../shared/schemas/availability";
import type { RequesterContext } from "../../../shared/schemas/context";
import type { ActionSpec } from "../actions/catalog";
import { t, tOr } from "../i18n";

const roleName = (role: string | null) => tOr(`panel_role.${role ?? ""}`, role ?? "");

/** Why the server says an action cannot be done now, in the agent's words. */
export function unavailableText(entry: ActionAvailability, context: RequesterContext): string {
  switch (entry.reason) {
    case "role":
      return t("unavailable.role", { role: roleName(entry.requiredRole) });
    case "cap":
      return entry.cap?.canGoFurther.length ? t("unavailable.cap_further", { roles: entry.cap.canGoFurther.map(roleName).join(" / ") }) : t("unavailable.cap");
    case "billing":
      return t("unavailable.billing");
    case "pending":
      return t("unavailable.pending");
    default: {
      // invalid_transition: say which state stands in the way (the user's for user actions, else the account's).
      const isUser = entry.action.startsWith("user.") || entry.action.startsWith("impersonation.");
      const status = isUser ? context.user?.status : context.account.status === "ok" ? context.account.data.status : undefined;
      if (entry.code === "invalid_transition" && status) return t(isUser ? "unavailable.user_is" : "unavailable.account_is", { status: tOr(`status.${status}`, status).toLocaleLowerCase() });
      return tOr(`problem.${entry.code ?? ""}`, entry.detail ?? "");
    }
  }
}

export const isDestructive = (spec: ActionSpec) => {
  const rule = actionRules[spec.action];
  return "destructive" in rule && rule.destructive === true;
};

interface Props {
  specs: ActionSpec[];
  context: RequesterContext;
  open: string | null;
  stateOf(spec: ActionSpec): ActionAvailability | undefined;
  onToggle(action: string): void;
  /** Where these buttons are: ids must stay unique when the headline and the list show the same action. */
  place: "headline" | "list";
  primary?: boolean;
}

/** A row of action buttons; unavailable ones stay in place, disabled, with the reason listed under them. */
export function ActionButtons({ specs, context, open, stateOf, onToggle, place, primary }: Props) {
  const usable = (spec: ActionSpec) => stateOf(spec)?.status !== "unavailable";
  const whyId = (spec: ActionSpec) => `why-${place}-${spec.action.replace(/\W/g, "-")}`;
  const off = specs.filter((s) => !usable(s));
  return (
    <>
      <div class="action-buttons">
        {/* Catalog order, disabled in place: moving a focused button in the DOM would drop its focus. */}
        {specs.map((spec) => {
          const disabled = !usable(spec);
          const tone = isDestructive(spec) ? " c-btn--danger" : primary ? " c-btn--primary" : "";
          return (
            <button
              key={spec.action}
              type="button"
              class={`c-btn c-btn--sm${tone}`}
              aria-expanded={disabled ? undefined : open === spec.action}
              aria-describedby={disabled ? whyId(spec) : undefined}
              disabled={disabled}
              data-action={spec.action}
              data-available={disabled ? "false" : "true"}
              onClick={() => onToggle(spec.action)}
            >
              {tOr(`action.${spec.action}`, spec.action)}
            </button>
          );
        })}
      </div>
      {off.length > 0 && (
        <ul class="why" data-testid="unavailable">
          {off.map((spec) => (
            <li key={spec.action} id={whyId(spec)} data-action={spec.action} data-reason={stateOf(spec)?.reason}>
              <strong>{tOr(`action.${spec.action}`, spec.action)}</strong>: {unavailableText(stateOf(spec) as ActionAvailability, context)}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
