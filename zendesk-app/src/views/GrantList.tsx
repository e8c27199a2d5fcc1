import type { ComponentChildren } from "preact";
import type { ActionAvailability, TemporaryGrant } from "../../../shared/schemas/availability";
import type { RequesterContext } from "../../../shared/schemas/context";
import type { ActionSpec } from "../actions/catalog";
import { dateOrTime } from "../format";
import { plural, t, tOr } from "../i18n";
import { unavailableText } from "./ActionButtons";

/** The form "End now" opens: the grant's end action with the grant fixed as its input. */
export function endSpecOf(grant: TemporaryGrant): ActionSpec {
  const field = grant.kind === "elevation" ? "elevationId" : "expansionId";
  return { action: grant.endAction, target: grant.kind === "elevation" ? "user" : "account", fields: [{ name: field, kind: "hidden", initial: () => grant.id }], applies: () => true };
}

function grantText(grant: TemporaryGrant, now: number): string {
  const until = dateOrTime(grant.endsAt, now);
  const what =
    grant.kind === "elevation"
      ? t("grants.role", { role: tOr(`role.${grant.role ?? ""}`, grant.role ?? ""), previous: tOr(`role.${grant.previousRole ?? ""}`, grant.previousRole ?? ""), until })
      : plural("grants.seats", grant.seats ?? 0, { until });
  // Past its end, the sweep has not reached it yet.
  return Date.parse(grant.endsAt) <= now ? t("grants.overdue", { what }) : what;
}

interface Props {
  grants: readonly TemporaryGrant[];
  context: RequesterContext;
  stateOf(action: string): ActionAvailability | undefined;
  /** The grant whose End now form is open. */
  open: string | null;
  onToggle(grantId: string): void;
  form(grant: TemporaryGrant): ComponentChildren;
}

/**
 * Temporary grants still open on the requester and their account (a raised role, extra seats), each
 * with when it ends, who gave it for which ticket, and End now: disabled with the server's reason when
 * the agent may not end it.
 */
export function GrantList({ grants, context, stateOf, open, onToggle, form }: Props) {
  if (grants.length === 0) return null;
  const now = Date.now();
  return (
    <div class="grants" data-testid="grants">
      <h3>{t("grants.title")}</h3>
      <ul>
        {grants.map((grant) => {
          const state = stateOf(grant.endAction);
          const off = state?.status === "unavailable";
          const whyId = `why-grant-${grant.id}`;
          return (
            <li key={grant.id} data-grant={grant.id} data-kind={grant.kind}>
              <span data-testid="grant-text">{grantText(grant, now)}</span>
              <span class="muted"> · {t("grants.by", { name: grant.grantedBy ?? "Steward", ticket: grant.ticketId })}</span>
              <div class="action-buttons">
                <button
                  type="button"
                  class="c-btn c-btn--sm"
                  data-testid="grant-end"
                  aria-label={`${t("grants.end_now")}: ${tOr(`action.${grant.endAction}`, grant.endAction)}`}
                  aria-expanded={off ? undefined : open === grant.id}
                  aria-describedby={off ? whyId : undefined}
                  disabled={off}
                  onClick={() => onToggle(grant.id)}
                >
                  {t("grants.end_now")}
                </button>
              </div>
              {off && state && (
                <p class="why" id={whyId} data-reason={state.reason}>
                  {unavailableText(state, context)}
                </p>
              )}
              {open === grant.id && !off && form(grant)}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
