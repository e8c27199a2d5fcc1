import { Fragment } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { ProblemDetails } from "../../../shared/problem";
import type { ApprovalRequest } from "../../../shared/schemas/approval";
import type { ActionPreviewResponse, ActionResponse, SupportActionName } from "../../../shared/schemas/actions";
import type { RequesterContext } from "../../../shared/schemas/context";
import type { CustomerNotice } from "../../../shared/schemas/availability";
import type { ActionSpec, FieldNote } from "../actions/catalog";
import { targetOf } from "../actions/catalog";
import { IntentKeys, inputFrom, previewAction, runAction, settlesIntent, type ActionRequestBody } from "../actions/runAction";
import { StewardApiError } from "../api/steward";
import { money } from "../format";
import { t, tOr } from "../i18n";
import { useServices } from "../state/services";
import { customerLocaleOf } from "../state/useAvailability";
import { approvalsChanged } from "../state/useTicketApprovals";
import { ActionField, PreviewEffects, fieldReason, type FieldCap } from "./ActionFields";
import { Notice, ProblemNotice } from "./parts";

export interface ActionOutcome {
  response: ActionResponse;
  note: "added" | "failed" | "skipped";
}

interface Props {
  spec: ActionSpec;
  context: RequesterContext;
  destructive: boolean;
  /** Shows its effects before it runs (destructive ones, and every one that changes money or access). */
  previewFirst?: boolean;
  /**
   * Shows its effects as the form opens, above Run (a preview that reads no input): the agent sees them
   * while typing the reason, and Run needs no second click (ticket open → lockout cleared stays 3 clicks).
   */
  previewOnOpen?: boolean;
  /** The agent's cap for this action, if it has one (e.g. 14 days for a trial extension). */
  cap?: FieldCap;
  /** The email the customer can be sent (from the server, with its text); mandatory ones cannot be unticked. */
  notice?: CustomerNotice | null;
  onDone(outcome: ActionOutcome): void;
  onCancel(): void;
  /** Reads the requester again (after a 409: someone changed the target since it was loaded). */
  onRefresh(): void;
  /** Opens another action's form instead (the one a field's note points to), when the panel lists it for this requester. */
  opener?: (action: SupportActionName) => (() => void) | null;
}

/** A field's note in the agent's words: `{status}` lower-cased, `{action}` the action's label. */
/** An account action names the workspace as agents know it (a user may belong to several), its id after. */
function accountTarget(context: RequesterContext, id: string): string {
  const name = context.account.status === "ok" ? context.account.data.name : "";
  return name && id ? `${name} (${id})` : id;
}

function noteText(note: FieldNote): string {
  const status = "status" in note ? tOr(`status.${note.status}`, note.status).toLocaleLowerCase() : "";
  const action = "action" in note ? tOr(`action.${note.action}`, note.action) : "";
  return t(`field.${note.code}`, { status, action });
}

/** `body.input.days` and `input.days` both belong to the `days` field. */
function fieldOf(path: string): string {
  return path.replace(/^body\./, "").replace(/^input\./, "");
}

function asProblem(err: unknown): ProblemDetails {
  // No answer: the form says what Try again does, in the agent's words (without a code, so ProblemNotice keeps this title).
  if (err instanceof StewardApiError && err.status === 0) return { ...err.problem, code: undefined, title: t(err.problem.code === "timeout" ? "retry.timed_out" : "retry.network"), detail: undefined };
  if (err instanceof StewardApiError) return err.problem;
  return { type: "about:blank", title: t("common.error"), status: 0, detail: (err as Error).message };
}

/** One action's short form: its fields, a reason, the internal-note choice; destructive ones preview first. */
export function ActionForm({ spec, context, destructive, previewFirst = destructive, previewOnOpen = false, cap, notice = null, onDone, onCancel, onRefresh, opener }: Props) {
  const { api, zendesk, ticket } = useServices();
  const prefix = `act-${spec.action.replace(/\W/g, "-")}`;
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(spec.fields.map((f) => [f.name, f.initial?.(context) ?? f.options?.[0] ?? ""])));
  const [reason, setReason] = useState("");
  const [addNote, setAddNote] = useState(true);
  const [notify, setNotify] = useState(true);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ProblemDetails | null>(null);
  const [preview, setPreview] = useState<ActionPreviewResponse | null>(null);
  /** The effects shown as the form opens (previewOnOpen): loading, read, or not readable just now. */
  const [opened, setOpened] = useState<ActionPreviewResponse | "loading" | "failed" | null>(previewOnOpen ? "loading" : null);
  const [asked, setAsked] = useState<ApprovalRequest | null>(null);
  /** The last answer was not definite (timeout, dropped, 5xx): Retry sends the same request with the same key. */
  const [retryable, setRetryable] = useState(false);
  const intentKeys = useRef(new IntentKeys());
  const form = useRef<HTMLFormElement>(null);
  // Focus follows the flow: the first field when the form opens, the confirm button once the preview is shown.
  // A layout effect, so focus has moved before the form is painted: keys typed right after Enter (or the
  // preview) land in the form, not on the button that opened it, however fast the agent is.
  useLayoutEffect(() => {
    const target = preview ? form.current?.querySelector<HTMLElement>('[data-testid="confirm-action"]') : form.current?.querySelector<HTMLElement>("select, input, textarea");
    target?.focus();
  }, [preview]);
  const label = tOr(`action.${spec.action}`, spec.action);
  const target = targetOf(spec, context);
  // After Refresh on a 409 the target comes back with its new version: the conflict is answered.
  useEffect(() => setProblem((p) => (p?.code === "stale_version" ? null : p)), [target?.version]);
  // Read again when the target changes (its version): the effects are those of the state shown.
  useEffect(() => {
    if (!previewOnOpen || !target) return;
    let live = true;
    setOpened("loading");
    const { reason: _unwritten, ...request } = bodyOf("");
    previewAction(api, spec.action, request).then(
      (answer) => live && setOpened(answer),
      () => live && setOpened("failed"),
    );
    return () => {
      live = false;
    };
  }, [previewOnOpen, target?.id, target?.version]);
  const currency = context.billing.status === "ok" && context.billing.data ? context.billing.data.currency : "usd";

  // Choices narrowed for this requester (no owner or admin, no higher role for a deactivated user), and why, as the server would refuse the rest.
  const offeredFields = spec.fields.map((field) => {
    const narrowed = field.narrow?.(context);
    if (!narrowed) return { field, narrowed: false };
    const note = narrowed.why.map(noteText).join(" ") || undefined;
    // The actions the note names, as buttons, when this panel can open them.
    const instead = narrowed.why.flatMap((w) => ("action" in w ? [{ action: w.action, open: opener?.(w.action) ?? null }] : [])).filter((o) => o.open !== null);
    return { field: { ...field, options: narrowed.options }, note, narrowed: true, instead };
  });
  // A refresh may take a picked choice away (the user was deactivated meanwhile): the field starts over.
  useEffect(() => {
    const gone = offeredFields.filter(({ field, narrowed }) => narrowed && !field.options?.includes(values[field.name] ?? ""));
    if (gone.length) setValues((v) => ({ ...v, ...Object.fromEntries(gone.map(({ field }) => [field.name, field.initial?.(context) ?? field.options?.[0] ?? ""])) }));
  }, [target?.version]);

  const fieldErrors = new Map((problem?.errors ?? []).map((e) => [fieldOf(e.field), fieldReason(e)]));
  const customerLocale = customerLocaleOf(ticket.requester.locale);
  const shownFields = [...spec.fields.map((f) => f.name), "reason"];

  const bodyOf = (why: string, confirmationToken?: string): ActionRequestBody => ({
    ticketId: ticket.ticketId,
    reason: why,
    target: { type: target?.type ?? spec.target, id: target?.id ?? "" },
    expectedVersion: target?.version ?? 0,
    input: inputFrom(spec.fields, values),
    ...(notice ? { notifyCustomer: notice.mandatory || notify } : {}),
    ...(customerLocale ? { customerLocale } : {}),
    ...(confirmationToken ? { confirmationToken } : {}),
  });
  const body = (confirmationToken?: string): ActionRequestBody | null =>
    target && {
      ticketId: ticket.ticketId,
      reason,
      target: { type: target.type, id: target.id },
      expectedVersion: target.version,
      input: inputFrom(spec.fields, values),
      ...(notice ? { notifyCustomer: notice.mandatory || notify } : {}),
      ...(customerLocale ? { customerLocale } : {}),
      ...(confirmationToken ? { confirmationToken } : {}),
    };

  async function execute(confirmationToken?: string) {
    const request = body(confirmationToken);
    if (!request) return;
    const response = await runAction(api, spec.action, request, intentKeys.current.keyFor(request));
    intentKeys.current.settle();
    let note: ActionOutcome["note"] = "skipped";
    if (addNote) {
      const who = spec.target === "user" ? (context.user?.email ?? target?.id ?? "") : target?.id ?? "";
      note = await zendesk.addInternalNote(ticket.ticketId, t("note.body", { action: label, target: who, reason: reason.trim(), entry: response.auditEntryId })).then(
        () => "added" as const,
        () => "failed" as const,
      );
    }
    onDone({ response, note });
  }

  /** Over the agent's cap (refused here or by the server), or marked by an admin: a second person can run it. */
  const approvable = problem !== null && asked === null && (problem.approvalPossible === true || problem.code === "over_cap");

  /** The same action, target, ticket, reason, input and notice choice, stored for someone whose role and caps allow it. */
  async function askApproval() {
    const request = body();
    if (!request) return;
    setBusy(true);
    try {
      const created = await api.post<{ approval: ApprovalRequest }>("/api/approvals", {
        action: spec.action,
        targetType: request.target.type,
        targetId: request.target.id,
        ticketId: request.ticketId,
        reason: request.reason,
        input: request.input,
        // The notice choice waits with the request and applies when the approver runs it.
        ...(request.notifyCustomer !== undefined ? { notifyCustomer: request.notifyCustomer } : {}),
        ...(request.customerLocale ? { customerLocale: request.customerLocale } : {}),
      });
      setProblem(null);
      setAsked(created.approval);
      approvalsChanged();
    } catch (err) {
      setProblem(asProblem(err));
    } finally {
      setBusy(false);
    }
  }

  /** Checked before sending: more than the agent has left is refused here, saying what is left and who can go further. */
  function overCap(): ProblemDetails | null {
    if (!cap) return null;
    const asked = (inputFrom(spec.fields, values) as Record<string, unknown>)[cap.field];
    if (typeof asked !== "number" || asked <= cap.limit) return null;
    return overCapProblem(cap);
  }

  /** The over-cap refusal in the agent's words, whether this form or the server (its rolling 24 h totals) refused. */
  function overCapProblem(over: FieldCap): ProblemDetails {
    const left = spec.fields.find((f) => f.name === over.field)?.kind === "money" ? money(over.limit, currency) : `${over.limit} ${tOr(`unit.${over.unit}`, over.unit)}`;
    const roles = (over.canGoFurther ?? []).map((r) => tOr(`panel_role.${r}`, r)).join(" / ");
    const reason = roles ? t("field.over_cap_further", { left, roles }) : t("field.over_cap", { left });
    return { type: "about:blank", title: t("problem.over_cap"), status: 0, code: "over_cap", approvalPossible: roles !== "", errors: [{ field: `input.${over.field}`, reason }] };
  }

  /**
   * A server refusal of the cap says what is left (rolling 24 h: `cap.left`; one request: `cap.limit`)
   * and who can go further (`canGoFurther`, or `canApprove`); said like the check above.
   */
  function refusalOf(err: unknown): ProblemDetails {
    const problem = asProblem(err);
    if (problem.code !== "over_cap") return problem;
    const { cap: refused, canGoFurther, canApprove } = problem as { cap?: { field?: unknown; unit?: unknown; left?: unknown; limit?: unknown }; canGoFurther?: unknown; canApprove?: unknown };
    const limit = typeof refused?.left === "number" ? refused.left : refused?.limit;
    if (typeof refused?.field !== "string" || typeof refused.unit !== "string" || typeof limit !== "number") return problem;
    const roles = [canGoFurther, canApprove].find(Array.isArray) ?? [];
    return overCapProblem({ field: refused.field, unit: refused.unit, limit, canGoFurther: roles.filter((r): r is string => typeof r === "string") });
  }

  async function submit(event: Event) {
    event.preventDefault();
    const refused = overCap();
    if (refused) {
      setProblem(refused);
      return;
    }
    setBusy(true);
    setProblem(null);
    setRetryable(false);
    try {
      if (previewFirst && !preview) {
        const request = body();
        if (request) setPreview(await previewAction(api, spec.action, request));
      } else {
        await execute(preview?.confirmationToken);
      }
    } catch (err) {
      setProblem(refusalOf(err));
      // Until a definite answer the same submission keeps its key, so a retry cannot act twice.
      const status = err instanceof StewardApiError ? err.status : 0;
      const code = err instanceof StewardApiError ? err.problem.code : undefined;
      if (settlesIntent(status, code)) {
        intentKeys.current.settle();
        if (preview) setPreview(null);
      } else {
        setRetryable(true); // the preview (and its token) stays: Retry confirms the same request again
      }
    } finally {
      setBusy(false);
    }
  }

  // Escape closes the form as Cancel does (focus back on its opener); an open <select> keeps Escape to itself.
  const closeOnEscape = (e: KeyboardEvent) => {
    if (e.key !== "Escape" || e.defaultPrevented || e.isComposing) return;
    e.preventDefault();
    onCancel();
  };

  return (
    <form ref={form} class="action-form" onSubmit={submit} onKeyDown={closeOnEscape} aria-labelledby={`${prefix}-title`} data-testid="action-form" data-action={spec.action}>
      <h3 id={`${prefix}-title`}>{label}</h3>
      <p class="muted">{t("action.target", { target: spec.target === "user" ? (context.user?.email ?? "") : accountTarget(context, target?.id ?? "") })}</p>
      <fieldset disabled={busy || preview !== null || asked !== null}>
        {offeredFields.map(({ field, note, instead }) => (
          <Fragment key={field.name}>
            <ActionField field={field} id={`${prefix}-${field.name}`} value={values[field.name] ?? ""} error={fieldErrors.get(field.name)} cap={cap} note={note} currency={currency} onInput={(v) => setValues({ ...values, [field.name]: v })} />
            {instead?.map(({ action, open }) => (
              <button key={action} type="button" class="c-btn c-btn--basic c-btn--sm" data-testid="open-instead" data-opens={action} onClick={open ?? undefined}>
                {t("field.open_instead", { action: tOr(`action.${action}`, action) })}
              </button>
            ))}
          </Fragment>
        ))}
        <div class={fieldErrors.has("reason") ? "c-field c-field--error" : "c-field"}>
          <label class="c-field__label" for={`${prefix}-reason`}>
            {t("field.reason")}
          </label>
          <textarea
            id={`${prefix}-reason`}
            name="reason"
            class="c-field__input c-field__input--area"
            rows={2}
            required
            minLength={3}
            maxLength={500}
            value={reason}
            aria-invalid={fieldErrors.has("reason") || undefined}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
          {fieldErrors.has("reason") && (
            <div class="c-field__message" role="alert">
              {fieldErrors.get("reason")}
            </div>
          )}
        </div>
        <div class="c-field">
          <input id={`${prefix}-note`} class="c-field__checkbox" type="checkbox" checked={addNote} onChange={(e) => setAddNote(e.currentTarget.checked)} />
          <label class="c-field__label" for={`${prefix}-note`}>
            {t("field.add_note")}
          </label>
        </div>
        {notice && (
          <div class="c-field notice-choice" data-testid="customer-notice" data-mandatory={notice.mandatory ? "true" : "false"}>
            <input
              id={`${prefix}-notify`}
              class="c-field__checkbox"
              type="checkbox"
              checked={notice.mandatory || notify}
              disabled={notice.mandatory}
              aria-describedby={notice.mandatory || notify ? `${prefix}-notice-text` : undefined}
              onChange={(e) => setNotify(e.currentTarget.checked)}
            />
            <label class="c-field__label" for={`${prefix}-notify`}>
              {t("notice.notify")}
            </label>
            {notice.mandatory && <p class="muted">{t("notice.mandatory")}</p>}
            {(notice.mandatory || notify) && (
              <div id={`${prefix}-notice-text`} class="notice-mail" data-testid="notice-text">
                <p>{t("notice.to", { to: notice.to.join(", ") })}</p>
                <p>{t("notice.subject", { subject: notice.subject })}</p>
                <p class="notice-body">{notice.bodyText}</p>
              </div>
            )}
          </div>
        )}
      </fieldset>
      {problem && <ProblemNotice focus problem={problem} skipFields={(problem.errors ?? []).filter((e) => shownFields.includes(fieldOf(e.field))).map((e) => e.field)} reasonOf={fieldReason} />}
      {(retryable || problem?.code === "stale_version") && (
        <div class="form-buttons">
          {retryable ? (
            <button type="button" class="c-btn c-btn--sm" data-testid="retry-action" disabled={busy} onClick={() => form.current?.requestSubmit()}>
              {t("common.retry")}
            </button>
          ) : (
            <button type="button" class="c-btn c-btn--sm" data-testid="refresh-context" onClick={onRefresh}>
              {t("common.refresh")}
            </button>
          )}
        </div>
      )}
      {approvable && (
        <div class="form-buttons">
          <button type="button" class="c-btn c-btn--sm" data-testid="ask-approval" disabled={busy} onClick={() => void askApproval()}>
            {t("approvals.ask")}
          </button>
        </div>
      )}
      {asked && (
        <Notice tone="info" testId="approval-asked" focus>
          {t("approvals.asked_done")}
        </Notice>
      )}
      {opened === "loading" && (
        <p class="muted" role="status">
          {t("preview.loading")}
        </p>
      )}
      {opened === "failed" && (
        <p class="muted" role="status" data-testid="preview-unread">
          {t("preview.unread")}
        </p>
      )}
      {opened !== null && typeof opened === "object" && (
        <Notice tone="info">
          <PreviewEffects preview={opened} />
        </Notice>
      )}
      {preview && (
        <Notice tone="warning">
          <PreviewEffects preview={preview} />
          <p>{t("preview.confirm_question", { action: label })}</p>
        </Notice>
      )}
      <div class="form-buttons">
        {preview ? (
          <button type="submit" class={`c-btn c-btn--primary c-btn--sm${destructive ? " c-btn--danger" : ""}`} disabled={busy} data-testid="confirm-action">
            {t("action.confirm", { action: label })}
          </button>
        ) : (
          <button type="submit" class={`c-btn c-btn--primary c-btn--sm${destructive ? " c-btn--danger" : ""}`} disabled={busy || !target || asked !== null || opened === "loading"} data-testid="submit-action">
            {previewFirst ? t("action.preview") : t("action.run")}
          </button>
        )}
        <button type="button" class="c-btn c-btn--basic c-btn--sm" onClick={preview ? () => setPreview(null) : onCancel}>
          {preview ? t("action.back") : t("common.cancel")}
        </button>
      </div>
    </form>
  );
}
