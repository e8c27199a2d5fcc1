import { useEffect, useRef, useState } from "preact/hooks";
import { actionRules } from "../../../shared/actions";
import { roleAtLeast } from "../../../shared/roles";
import type { ActionAvailability } from "../../../shared/schemas/availability";
import type { RequesterContext } from "../../../shared/schemas/context";
import type { SessionInfo } from "../../../shared/schemas/session";
import { actionCatalog, actionGroups, groupOf, targetOf, type ActionSpec } from "../actions/catalog";
import { headlineOf } from "../actions/headline";
import { loadMoreStrings, t, tOr } from "../i18n";
import type { AvailabilityAnswer } from "../state/useAvailability";
import { ActionButtons, isDestructive } from "./ActionButtons";
import type { ActionForm as ActionFormView, ActionOutcome } from "./ActionForm";
import { lazyView } from "./lazyView";
import { Notice } from "./parts";
import { GrantList, endSpecOf } from "./GrantList";

/** Shown after an action only: its own chunk, with the on-demand strings. */
/**
 * Replies that tell the customer they can sign in again, and the headlines that say the requester still
 * cannot (lifting a workspace's suspension leaves a user suspended on their own suspended): no such reply then.
 */
const promisesSignIn = new Set(["user.lockout_clear", "user.unblock", "account.unsuspend"]);
const cannotSignIn = new Set(["account-deleted", "account-suspended", "account-deactivated", "user-deleted", "user-suspended", "locked", "blocked", "user-deactivated", "user-invited"]);

const SuggestedReply = lazyView(() => Promise.all([import("./SuggestedReply"), loadMoreStrings()]).then(([m]) => m.SuggestedReply));

export { unavailableText } from "./ActionButtons";

/**
 * The forms and the strings only they show (field labels, previews, notices) are loaded on demand:
 * when the agent points at or moves focus into the actions, or opens one. An action opened before they
 * are here says "Loading…" in its place until they are; the form then takes focus (its first field).
 */
let ActionForm: typeof ActionFormView | null = null;
let formChunk: Promise<unknown> | null = null;
const loadForms = () => (formChunk ??= Promise.all([import("./ActionForm"), loadMoreStrings()]).then(([m]) => (ActionForm = m.ActionForm), () => (formChunk = null)));
function useForms(): { ready: boolean; load: () => void } {
  const [ready, setReady] = useState(ActionForm !== null);
  const live = useRef(true);
  useEffect(
    () => () => {
      live.current = false;
    },
    [],
  );
  const load = () => {
    if (!ready) void loadForms().then(() => live.current && ActionForm !== null && setReady(true));
  };
  return { ready, load };
}

/** The form once its chunk is here, "Loading…" in its place until then (ActionsPanel renders again when it arrives). */
function FormOrLoading(props: Parameters<typeof ActionFormView>[0]) {
  if (ActionForm) return <ActionForm {...props} />;
  return (
    <p class="muted" data-testid="form-loading">
      {t("common.loading")}
    </p>
  );
}

/** The cap to check before sending: what is left to this agent on this target, else the role's per-request cap. */
function capOf(spec: ActionSpec, session: SessionInfo, state: ActionAvailability | undefined) {
  const left = state?.cap;
  if (left) return { field: left.field, unit: left.unit, limit: left.left, canGoFurther: left.canGoFurther };
  return session.permissions[spec.action]?.cap;
}

function allowed(spec: ActionSpec, session: SessionInfo): boolean {
  const rule = actionRules[spec.action];
  const fromServer = session.permissions[spec.action]?.allowed;
  // The server's answer includes configured caps and is authoritative; the shared table is the fallback.
  return fromServer ?? roleAtLeast(session.staff.panelRole, rule.minRole);
}

const roleName = (role: string | null) => tOr(`panel_role.${role ?? ""}`, role ?? "");

/**
 * The top of the customer tab: one line that answers the ticket's likely question, with the one or two
 * actions that fit it; every other action the server says fits this requester is one click away,
 * grouped. Unavailable ones stay visible, disabled, with the reason; a read-only agent is told why
 * there is nothing to do instead of seeing the actions vanish.
 */
export function ActionsPanel({ context, session, answer, onChanged }: { context: RequesterContext; session: SessionInfo | null; answer: AvailabilityAnswer | null; onChanged: () => void }) {
  const [open, setOpen] = useState<{ action: string; place: "headline" | "list" | "grants" } | null>(null);
  const [showAll, setShowAll] = useState(false);
  const [outcome, setOutcome] = useState<ActionOutcome | null>(null);
  const availability = answer?.actions ?? null;
  const forms = useForms();
  const headline = headlineOf(context);
  const head = (
    <h2 id="actions-title" class="headline-text" data-testid="headline">
      {headline.text}
    </h2>
  );
  const card = `card headline headline--${headline.tone}`;
  if (!session) return <section class={card} aria-labelledby="actions-title" data-testid="actions" data-headline={headline.kind}>{head}</section>;

  const relevant = actionCatalog
    .filter((spec) => spec.applies(context) && targetOf(spec, context))
    .map((spec) => ({ ...spec, fields: spec.fields.map((f) => (f.optionsFrom === "plans" ? { ...f, options: session.plans } : f)) }));
  const done = (result: ActionOutcome) => {
    setOpen(null);
    setOutcome(result);
    onChanged();
  };
  const section = useRef<HTMLElement>(null);
  // Closing a form without running it puts focus back on the button that opened it (not on the page's body).
  const cancel = () => {
    const opened = open;
    setOpen(null);
    if (!opened) return;
    const opener =
      opened.place === "grants"
        ? section.current?.querySelector<HTMLElement>(`li[data-grant="${CSS.escape(opened.action)}"] [data-testid="grant-end"]`)
        : section.current?.querySelector<HTMLElement>(`[data-testid="${opened.place === "headline" ? "headline-actions" : "all-actions-list"}"] button[data-action="${CSS.escape(opened.action)}"]`);
    opener?.focus();
  };
  const toggle = (place: "headline" | "list" | "grants") => (action: string) => {
    forms.load();
    setOutcome(null);
    setOpen(open?.action === action && open.place === place ? null : { action, place });
  };
  const Form = FormOrLoading;
  const grants = (
    <GrantList
      grants={answer?.grants ?? []}
      context={context}
      stateOf={(action) => availability?.get(action)}
      open={open?.place === "grants" ? open.action : null}
      onToggle={toggle("grants")}
      form={(grant) => {
        const spec = endSpecOf(grant);
        return <Form key={grant.id} spec={spec} context={context} destructive={false} previewFirst={availability?.get(grant.endAction)?.preview === true} onDone={done} onCancel={cancel} onRefresh={onChanged} />;
      }}
    />
  );
  if (relevant.length > 0 && relevant.every((spec) => !allowed(spec, session))) {
    const needed = relevant.map((spec) => actionRules[spec.action].minRole).sort((a, b) => (roleAtLeast(a as never, b as never) ? 1 : -1))[0] ?? "support_full";
    return (
      <section ref={section} class={card} aria-labelledby="actions-title" data-testid="actions" data-headline={headline.kind} data-read-only="true" onPointerEnter={forms.load} onFocusIn={forms.load}>
        {head}
        <Notice tone="info" testId="read-only">
          {t("actions.read_only", { role: roleName(session.staff.panelRole), needed: roleName(needed) })}
        </Notice>
        {grants}
      </section>
    );
  }
  // Without the server's answer (still loading, or it failed) the role table decides, as before.
  const stateOf = (spec: ActionSpec): ActionAvailability | undefined => availability?.get(spec.action);
  const specs = relevant.filter((spec) => (availability ? stateOf(spec) !== undefined : allowed(spec, session)));
  const fitting = headline.actions.map((action) => specs.find((s) => s.action === action)).filter((s): s is (typeof specs)[number] => s !== undefined);

  const formFor = (place: "headline" | "list", among: ActionSpec[]) => {
    const spec = open?.place === place ? among.find((s) => s.action === open.action && stateOf(s)?.status !== "unavailable") : undefined;
    if (!spec) return null;
    return (
      <Form
        key={spec.action}
        spec={spec}
        context={context}
        destructive={isDestructive(spec)}
        previewFirst={isDestructive(spec) || (stateOf(spec)?.preview === true && !spec.previewOnOpen)}
        previewOnOpen={!isDestructive(spec) && stateOf(spec)?.preview === true && spec.previewOnOpen === true}
        cap={capOf(spec, session, stateOf(spec))}
        notice={stateOf(spec)?.notice ?? null}
        onDone={done}
        onCancel={cancel}
        onRefresh={onChanged}
        opener={(action) => (among.some((s) => s.action === action && stateOf(s)?.status !== "unavailable") ? () => toggle(place)(action) : null)}
      />
    );
  };

  return (
    <section ref={section} class={card} aria-labelledby="actions-title" data-testid="actions" data-headline={headline.kind} data-availability={availability ? "server" : "role"} data-forms={forms.ready ? "ready" : "on-demand"} onPointerEnter={forms.load} onFocusIn={forms.load}>
      {head}
      {outcome && (
        <Notice tone="success" testId="action-result" focus>
          {t("actions.done", { action: tOr(`action.${outcome.response.action}`, outcome.response.action), entry: outcome.response.auditEntryId })}
          {outcome.response.replayed && ` ${t("actions.replayed")}`}
          {outcome.note === "added" && ` ${t("actions.note_added")}`}
          {outcome.note === "failed" && ` ${t("actions.note_failed")}`}
        </Notice>
      )}
      {outcome && !(promisesSignIn.has(outcome.response.action) && cannotSignIn.has(headline.kind)) && <SuggestedReply key={outcome.response.auditEntryId} action={outcome.response.action} />}
      {fitting.length > 0 && (
        <div data-testid="headline-actions">
          <ActionButtons specs={fitting} context={context} open={open?.place === "headline" ? open.action : null} stateOf={stateOf} onToggle={toggle("headline")} place="headline" primary />
          {formFor("headline", fitting)}
        </div>
      )}
      {grants}
      {specs.length > 0 && (
        <button type="button" class="c-btn c-btn--basic c-btn--sm all-toggle" aria-expanded={showAll} aria-controls="all-actions" data-testid="all-actions" onClick={() => setShowAll(!showAll)}>
          {t("actions.all", { count: specs.length })}
        </button>
      )}
      {showAll && (
        <div id="all-actions" data-testid="all-actions-list">
          {actionGroups
            .map((group) => ({ group, members: specs.filter((s) => groupOf(s.action) === group) }))
            .filter(({ members }) => members.length > 0)
            .map(({ group, members }) => (
              <div key={group} class="action-group" data-group={group}>
                <h3>{t(`actions.group.${group}`)}</h3>
                <ActionButtons specs={members} context={context} open={open?.place === "list" ? open.action : null} stateOf={stateOf} onToggle={toggle("list")} place="list" />
                {formFor("list", members)}
              </div>
            ))}
        </div>
      )}
    </section>
  );
}
