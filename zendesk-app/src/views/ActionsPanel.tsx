import { useState } from "preact/hooks";
import { actionRules } from "../../../shared/actions";
import { roleAtLeast } from "../../../shared/roles";
import type { ActionAvailability } from "../../../shared/schemas/availability";
import type { RequesterContext } from "../../../shared/schemas/context";
import type { SessionInfo } from "../../../shared/schemas/session";
import { actionCatalog, targetOf, type ActionSpec } from "../actions/catalog";
import { t, tOr } from "../i18n";
import { useServices } from "../state/services";
import { useAvailability } from "../state/useAvailability";
import { ActionForm, type ActionOutcome } from "./ActionForm";
import { Notice } from "./parts";

/** The cap to check before sending: what is left to this agent on this target, else the role's per-request cap. */
function capOf(spec: ActionSpec, session: SessionInfo, state: ActionAvailability | undefined) {
  const left = state?.cap;
  if (left) return { field: left.field, unit: left.unit, limit: left.left };
  return session.permissions[spec.action]?.cap;
}

function allowed(spec: ActionSpec, session: SessionInfo): boolean {
  const rule = actionRules[spec.action];
  const fromServer = session.permissions[spec.action]?.allowed;
  // The server's answer includes configured caps and is authoritative; the shared table is the fallback.
  return fromServer ?? roleAtLeast(session.staff.panelRole, rule.minRole);
}

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

/**
 * The actions that fit this requester, as the server says the agent can do them now: available ones
 * open their short form; unavailable ones stay visible, disabled, with the reason; a read-only agent
 * is told why there is nothing to do instead of seeing the card vanish.
 */
export function ActionsPanel({ context, session, onChanged }: { context: RequesterContext; session: SessionInfo; onChanged: () => void }) {
  const { api } = useServices();
  const [open, setOpen] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<ActionOutcome | null>(null);
  const userTarget = context.user ? { type: "user" as const, id: context.user.id, version: context.user.version } : null;
  const accountTarget = context.account.status === "ok" ? { type: "account" as const, id: context.account.data.id, version: context.account.data.version } : null;
  const availability = useAvailability(api, userTarget, accountTarget);
  const relevant = actionCatalog
    .filter((spec) => spec.applies(context) && targetOf(spec, context))
    .map((spec) => ({ ...spec, fields: spec.fields.map((f) => (f.optionsFrom === "plans" ? { ...f, options: session.plans } : f)) }));
  const readOnly = relevant.length > 0 && relevant.every((spec) => !allowed(spec, session));
  if (readOnly) {
    const needed = relevant.map((spec) => actionRules[spec.action].minRole).sort((a, b) => (roleAtLeast(a as never, b as never) ? 1 : -1))[0] ?? "support_full";
    return (
      <section class="card" aria-labelledby="actions-title" data-testid="actions" data-read-only="true">
        <h2 id="actions-title">{t("actions.title")}</h2>
        <Notice tone="info" testId="read-only">
          {t("actions.read_only", { role: roleName(session.staff.panelRole), needed: roleName(needed) })}
        </Notice>
      </section>
    );
  }
  // Without the server's answer (still loading, or it failed) the role table decides, as before.
  const stateOf = (spec: ActionSpec): ActionAvailability | undefined => availability?.get(spec.action);
  const specs = relevant.filter((spec) => (availability ? stateOf(spec) !== undefined : allowed(spec, session)));
  if (specs.length === 0) return null;
  const usable = (spec: ActionSpec) => stateOf(spec)?.status !== "unavailable";

  const done = (result: ActionOutcome) => {
    setOpen(null);
    setOutcome(result);
    onChanged();
  };
  const groups = [
    { key: "user", title: t("actions.user"), specs: specs.filter((s) => s.target === "user") },
    { key: "account", title: t("actions.account"), specs: specs.filter((s) => s.target === "account") },
  ].filter((g) => g.specs.length > 0);

  return (
    <section class="card" aria-labelledby="actions-title" data-testid="actions" data-availability={availability ? "server" : "role"}>
      <h2 id="actions-title">{t("actions.title")}</h2>
      {outcome && (
        <Notice tone="success" testId="action-result" focus>
          {t("actions.done", { action: tOr(`action.${outcome.response.action}`, outcome.response.action), entry: outcome.response.auditEntryId })}
          {outcome.response.replayed && ` ${t("actions.replayed")}`}
          {outcome.note === "added" && ` ${t("actions.note_added")}`}
          {outcome.note === "failed" && ` ${t("actions.note_failed")}`}
        </Notice>
      )}
      {groups.map((group) => (
        <div key={group.key} class="action-group">
          <h3>{group.title}</h3>
          <div class="action-buttons">
            {/* Catalog order, disabled in place: moving a focused button in the DOM would drop its focus. */}
            {group.specs.map((spec) => {
              const rule = actionRules[spec.action];
              const destructive = "destructive" in rule && rule.destructive === true;
              const off = !usable(spec);
              return (
                <button
                  key={spec.action}
                  type="button"
                  class={`c-btn c-btn--sm${destructive ? " c-btn--danger" : ""}`}
                  aria-expanded={off ? undefined : open === spec.action}
                  aria-describedby={off ? `why-${spec.action.replace(/\W/g, "-")}` : undefined}
                  disabled={off}
                  data-action={spec.action}
                  data-available={off ? "false" : "true"}
                  onClick={() => {
                    setOutcome(null);
                    setOpen(open === spec.action ? null : spec.action);
                  }}
                >
                  {tOr(`action.${spec.action}`, spec.action)}
                </button>
              );
            })}
          </div>
          {group.specs.some((s) => !usable(s)) && (
            <ul class="why" data-testid="unavailable">
              {group.specs
                .filter((s) => !usable(s))
                .map((spec) => (
                  <li key={spec.action} id={`why-${spec.action.replace(/\W/g, "-")}`} data-action={spec.action} data-reason={stateOf(spec)?.reason}>
                    <strong>{tOr(`action.${spec.action}`, spec.action)}</strong>: {unavailableText(stateOf(spec) as ActionAvailability, context)}
                  </li>
                ))}
            </ul>
          )}
          {group.specs.some((s) => s.action === open && usable(s)) &&
            (() => {
              const spec = group.specs.find((s) => s.action === open) as ActionSpec;
              const rule = actionRules[spec.action];
              return (
                <ActionForm
                  key={spec.action}
                  spec={spec}
                  context={context}
                  destructive={"destructive" in rule && rule.destructive === true}
                  previewFirst={("destructive" in rule && rule.destructive === true) || stateOf(spec)?.preview === true}
                  cap={capOf(spec, session, stateOf(spec))}
                  onDone={done}
                  onCancel={() => setOpen(null)}
                />
              );
            })()}
        </div>
      ))}
    </section>
  );
}
