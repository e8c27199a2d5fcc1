import { useState } from "preact/hooks";
import type { ProblemDetails } from "../../../shared/problem";
import type { ActionPreviewResponse, ActionResponse } from "../../../shared/schemas/actions";
import type { RequesterContext } from "../../../shared/schemas/context";
import type { ActionSpec, FieldSpec } from "../actions/catalog";
import { targetOf } from "../actions/catalog";
import { inputFrom, newIdempotencyKey, previewAction, runAction, type ActionRequestBody } from "../actions/runAction";
import { StewardApiError } from "../api/steward";
import { date, money } from "../format";
import { t, tOr } from "../i18n";
import { useServices } from "../state/services";
import { Notice, ProblemNotice } from "./parts";

export interface ActionOutcome {
  response: ActionResponse;
  note: "added" | "failed" | "skipped";
}

interface Props {
  spec: ActionSpec;
  context: RequesterContext;
  destructive: boolean;
  /** The agent's cap for this action, if it has one (e.g. 14 days for a trial extension). */
  cap?: { field: string; unit: string; limit: number };
  onDone(outcome: ActionOutcome): void;
  onCancel(): void;
}

/** `body.input.days` and `input.days` both belong to the `days` field. */
function fieldOf(path: string): string {
  return path.replace(/^body\./, "").replace(/^input\./, "");
}

function asProblem(err: unknown): ProblemDetails {
  if (err instanceof StewardApiError) return err.problem;
  return { type: "about:blank", title: t("common.error"), status: 0, detail: (err as Error).message };
}

function Field({ field, id, value, error, cap, currency, onInput }: { field: FieldSpec; id: string; value: string; error?: string; cap?: Props["cap"]; currency: string; onInput: (v: string) => void }) {
  const label = tOr(`field.${field.name}`, field.name);
  const hint = cap && cap.field === field.name ? t("field.cap_hint", { limit: field.kind === "money" ? money(cap.limit, currency) : cap.limit, unit: tOr(`unit.${cap.unit}`, cap.unit) }) : null;
  const common = { id, name: field.name, "aria-invalid": error ? true : undefined, "aria-describedby": error ? `${id}-error` : undefined };
  return (
    <div class={error ? "c-field c-field--error" : "c-field"}>
      <label class="c-field__label" for={id}>
        {label}
      </label>
      {hint && <div class="c-field__hint">{hint}</div>}
      {field.kind === "select" ? (
        <select {...common} class="c-field__input c-field__input--select" value={value} onChange={(e) => onInput(e.currentTarget.value)}>
          {(field.options ?? []).map((option) => (
            <option key={option} value={option}>
              {tOr(`option.${option}`, option)}
            </option>
          ))}
        </select>
      ) : field.kind === "textarea" || field.kind === "idList" ? (
        <textarea {...common} class="c-field__input c-field__input--area" rows={2} value={value} required={!field.optional} onInput={(e) => onInput(e.currentTarget.value)} />
      ) : field.kind === "text" ? (
        <input {...common} class="c-field__input" type="text" required={!field.optional} value={value} onInput={(e) => onInput(e.currentTarget.value)} />
      ) : (
        <input
          {...common}
          class="c-field__input"
          type="number"
          inputMode={field.kind === "money" ? "decimal" : "numeric"}
          step={field.kind === "money" ? "0.01" : "1"}
          min={field.kind === "money" ? "0.01" : field.min}
          max={field.max}
          required={!field.optional}
          value={value}
          onInput={(e) => onInput(e.currentTarget.value)}
        />
      )}
      {error && (
        <div class="c-field__message" id={`${id}-error`} role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

function Effects({ preview }: { preview: ActionPreviewResponse }) {
  const e = preview.effects;
  return (
    <div class="effects" data-testid="preview">
      <p>
        <strong>{e.summary}</strong>
      </p>
      <ul>
        {e.activeSubscription && <li>{t("preview.mrr_lost", { amount: money(e.mrrLostCents, e.currency) })}</li>}
        {e.nextInvoice && <li>{t("preview.next_invoice", { amount: money(e.nextInvoice.amountCents, e.currency), date: date(e.nextInvoice.date) })}</li>}
        {e.openInvoices > 0 && <li>{t("preview.open_invoices", { count: e.openInvoices, amount: money(e.amountDueCents, e.currency) })}</li>}
        {e.usersLosingAccess.length > 0 && <li>{t("preview.users_losing_access", { count: e.usersLosingAccess.length, names: e.usersLosingAccess.slice(0, 5).map((u) => u.email).join(", ") })}</li>}
        {e.retentionUntil && <li>{t("preview.retention", { date: date(e.retentionUntil) })}</li>}
        {e.warnings.map((w) => (
          <li key={w} class="warning">
            {w}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** One action's short form: its fields, a reason, the internal-note choice; destructive ones preview first. */
export function ActionForm({ spec, context, destructive, cap, onDone, onCancel }: Props) {
  const { api, zendesk, ticket } = useServices();
  const prefix = `act-${spec.action.replace(/\W/g, "-")}`;
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(spec.fields.map((f) => [f.name, f.initial?.(context) ?? f.options?.[0] ?? ""])));
  const [reason, setReason] = useState("");
  const [addNote, setAddNote] = useState(true);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ProblemDetails | null>(null);
  const [preview, setPreview] = useState<ActionPreviewResponse | null>(null);
  const [idempotencyKey, setIdempotencyKey] = useState(newIdempotencyKey);
  const label = tOr(`action.${spec.action}`, spec.action);
  const target = targetOf(spec, context);
  const currency = context.billing.status === "ok" && context.billing.data ? context.billing.data.currency : "usd";

  const fieldErrors = new Map((problem?.errors ?? []).map((e) => [fieldOf(e.field), e.reason]));
  const shownFields = [...spec.fields.map((f) => f.name), "reason"];

  const body = (confirmationToken?: string): ActionRequestBody | null =>
    target && {
      ticketId: ticket.ticketId,
      reason,
      target: { type: target.type, id: target.id },
      expectedVersion: target.version,
      input: inputFrom(spec.fields, values),
      ...(confirmationToken ? { confirmationToken } : {}),
    };

  async function execute(confirmationToken?: string) {
    const request = body(confirmationToken);
    if (!request) return;
    const response = await runAction(api, spec.action, request, idempotencyKey);
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

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      if (destructive && !preview) {
        const request = body();
        if (request) setPreview(await previewAction(api, spec.action, request));
      } else {
        await execute(preview?.confirmationToken);
      }
    } catch (err) {
      setProblem(asProblem(err));
      // A network failure may have reached the server: keep the key so a retry cannot act twice.
      if (!(err instanceof StewardApiError && err.status === 0)) setIdempotencyKey(newIdempotencyKey());
      if (preview) setPreview(null);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="action-form" onSubmit={submit} aria-labelledby={`${prefix}-title`} data-testid="action-form" data-action={spec.action}>
      <h3 id={`${prefix}-title`}>{label}</h3>
      <p class="muted">{t("action.target", { target: spec.target === "user" ? (context.user?.email ?? "") : (target?.id ?? "") })}</p>
      <fieldset disabled={busy || preview !== null}>
        {spec.fields.map((field) => (
          <Field key={field.name} field={field} id={`${prefix}-${field.name}`} value={values[field.name] ?? ""} error={fieldErrors.get(field.name)} cap={cap} currency={currency} onInput={(v) => setValues({ ...values, [field.name]: v })} />
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
      </fieldset>
      {problem && <ProblemNotice problem={problem} skipFields={(problem.errors ?? []).filter((e) => shownFields.includes(fieldOf(e.field))).map((e) => e.field)} />}
      {preview && (
        <Notice tone="warning">
          <Effects preview={preview} />
          <p>{t("preview.confirm_question", { action: label })}</p>
        </Notice>
      )}
      <div class="form-buttons">
        {preview ? (
          <button type="submit" class="c-btn c-btn--primary c-btn--danger c-btn--sm" disabled={busy} data-testid="confirm-action">
            {t("action.confirm", { action: label })}
          </button>
        ) : (
          <button type="submit" class={`c-btn c-btn--primary c-btn--sm${destructive ? " c-btn--danger" : ""}`} disabled={busy || !target} data-testid="submit-action">
            {destructive ? t("action.preview") : t("action.run")}
          </button>
        )}
        <button type="button" class="c-btn c-btn--basic c-btn--sm" onClick={preview ? () => setPreview(null) : onCancel}>
          {preview ? t("action.back") : t("common.cancel")}
        </button>
      </div>
    </form>
  );
}
