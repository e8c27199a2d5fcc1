import { useState } from "preact/hooks";
import { actionRules } from "../../../shared/actions";
import { roleAtLeast } from "../../../shared/roles";
import type { RequesterContext } from "../../../shared/schemas/context";
import type { SessionInfo } from "../../../shared/schemas/session";
import { actionCatalog, targetOf, type ActionSpec } from "../actions/catalog";
import { t, tOr } from "../i18n";
import { ActionForm, type ActionOutcome } from "./ActionForm";
import { Notice } from "./parts";

function allowed(spec: ActionSpec, session: SessionInfo): boolean {
  const rule = actionRules[spec.action];
  const fromServer = session.permissions[spec.action]?.allowed;
  // The server's answer includes configured caps and is authoritative; the shared table is the fallback.
  return fromServer ?? roleAtLeast(session.staff.panelRole, rule.minRole);
}

/** The actions this agent's panel role allows for this requester; each opens its own short form. */
export function ActionsPanel({ context, session, onChanged }: { context: RequesterContext; session: SessionInfo; onChanged: () => void }) {
  const [open, setOpen] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<ActionOutcome | null>(null);
  const specs = actionCatalog
    .filter((spec) => allowed(spec, session) && spec.applies(context) && targetOf(spec, context))
    .map((spec) => ({ ...spec, fields: spec.fields.map((f) => (f.optionsFrom === "plans" ? { ...f, options: session.plans } : f)) }));
  if (specs.length === 0) return null;

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
    <section class="card" aria-labelledby="actions-title" data-testid="actions">
      <h2 id="actions-title">{t("actions.title")}</h2>
      {outcome && (
        <Notice tone="success" testId="action-result">
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
            {group.specs.map((spec) => {
              const rule = actionRules[spec.action];
              const destructive = "destructive" in rule && rule.destructive === true;
              return (
                <button
                  key={spec.action}
                  type="button"
                  class={`c-btn c-btn--sm${destructive ? " c-btn--danger" : ""}`}
                  aria-expanded={open === spec.action}
                  data-action={spec.action}
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
          {group.specs.some((s) => s.action === open) &&
            (() => {
              const spec = group.specs.find((s) => s.action === open) as ActionSpec;
              const rule = actionRules[spec.action];
              return (
                <ActionForm
                  key={spec.action}
                  spec={spec}
                  context={context}
                  destructive={"destructive" in rule && rule.destructive === true}
                  cap={session.permissions[spec.action]?.cap}
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
