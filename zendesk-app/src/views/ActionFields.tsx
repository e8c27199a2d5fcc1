import type { ActionPreviewResponse, EffectPhrase } from "../../../shared/schemas/actions";
import type { FieldSpec } from "../actions/catalog";
import { date, dateTime, money, timeOfDay } from "../format";
import type { FieldError } from "../../../shared/problem";
import { currentLanguage, currentLocale, hasMessage, plural, t, tOr } from "../i18n";

/** The pieces of an action form: one input per action field, and the preview's billing effects. */
export interface FieldCap {
  field: string;
  unit: string;
  limit: number;
  /** The panel roles whose caps allow more here (from the server's available actions), when known. */
  canGoFurther?: readonly string[];
}

/** `note`: why the field offers fewer choices than usual, said under its label. */
export function ActionField({ field, id, value, error, cap, note, currency, onInput }: { field: FieldSpec; id: string; value: string; error?: string; cap?: FieldCap; note?: string; currency: string; onInput: (v: string) => void }) {
  // Fixed by what opened the form (which grant "End now" ends): sent, not shown.
  if (field.kind === "hidden") return null;
  const label = tOr(`field.${field.name}`, field.name);
  const hint = cap && cap.field === field.name ? t("field.cap_hint", { limit: field.kind === "money" ? money(cap.limit, currency) : cap.limit, unit: tOr(`unit.${cap.unit}`, cap.unit) }) : null;
  const describedBy = [note ? `${id}-note` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  const common = { id, name: field.name, "aria-invalid": error ? true : undefined, "aria-describedby": describedBy || undefined };
  return (
    <div class={error ? "c-field c-field--error" : "c-field"}>
      <label class="c-field__label" for={id}>
        {label}
      </label>
      {hint && <div class="c-field__hint">{hint}</div>}
      {note && (
        <div class="c-field__hint" id={`${id}-note`} data-testid="field-note">
          {note}
        </div>
      )}
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

/** A preview sentence in the agent's language (EffectPhrase: `...Cents` money, `...Date` dates, `...Time` date and time (`..._day` and `..._clock` apart), `...Role` a role, `status` a status, `count` plural); its English when the code is new to this build. */
function say(p: EffectPhrase | undefined, english: string, currency: string): string {
  if (!p) return english;
  const key = `effect.${p.code}`;
  const vars: Record<string, string | number> = {};
  for (const [name, v] of Object.entries(p.params)) {
    if (name.endsWith("Cents")) vars[name] = money(Number(v), currency);
    else if (name.endsWith("Date")) vars[name] = date(String(v));
    else if (name.endsWith("Time")) {
      vars[name] = dateTime(String(v));
      // Its date and its time of day apart, so a sentence can put its own words between them.
      vars[`${name}_day`] = date(String(v));
      vars[`${name}_clock`] = timeOfDay(String(v));
    }
    else if (name.endsWith("Role")) vars[name] = tOr(`role.${v}`, String(v));
    else if (name === "status") vars[name] = tOr(`status.${v}`, String(v));
    else vars[name] = typeof v === "number" ? new Intl.NumberFormat(currentLocale()).format(v) : v;
  }
  if (hasMessage(`${key}.one`) && typeof p.params.count === "number") return plural(key as Parameters<typeof plural>[0], p.params.count, vars);
  return tOr(key, english, vars);
}

export function PreviewEffects({ preview }: { preview: ActionPreviewResponse }) {
  const e = preview.effects;
  return (
    <div class="effects" data-testid="preview">
      <p>
        <strong>{say(e.summaryPhrase, e.summary, e.currency)}</strong>
      </p>
      <ul>
        {e.activeSubscription && e.mrrLostCents > 0 && <li>{t("preview.mrr_lost", { amount: money(e.mrrLostCents, e.currency) })}</li>}
        {e.mrrLostCents < 0 && <li>{t("preview.mrr_gain", { amount: money(-e.mrrLostCents, e.currency) })}</li>}
        {e.nextInvoice ? (
          <li>{t("preview.next_invoice", { amount: money(e.nextInvoice.amountCents, e.currency), date: date(e.nextInvoice.date) })}</li>
        ) : (
          e.activeSubscription && <li>{t("preview.no_next_invoice")}</li>
        )}
        {e.openInvoices > 0 && <li>{t("preview.open_invoices", { count: e.openInvoices, amount: money(e.amountDueCents, e.currency) })}</li>}
        {e.usersLosingAccess.length > 0 && <li>{t("preview.users_losing_access", { count: e.usersLosingAccess.length, names: e.usersLosingAccess.slice(0, 5).map((u) => u.email).join(", ") })}</li>}
        {e.retentionUntil && <li>{t("preview.retention", { date: date(e.retentionUntil) })}</li>}
        {e.warnings.map((w, i) => (
          <li key={w} class="warning">
            {say(e.warningPhrases[i], w, e.currency)}
          </li>
        ))}
      </ul>
    </div>
  );
}

/**
 * Why a field was refused, in the agent's language: the words for its code and bounds (FieldError.code),
 * numbers by Intl. A rule of the server's own (`custom`) or a code new to this build is said by the
 * server's English reason to English-speaking agents, and in general words to the others. The words
 * ship with the on-demand strings, loaded with every form a 400 can answer (until then: the English reason).
 */
export function fieldReason(e: FieldError): string {
  const vars: Record<string, string | number> = {};
  for (const [name, v] of Object.entries(e.params ?? {})) vars[name] = typeof v === "number" ? new Intl.NumberFormat(currentLocale()).format(v) : v;
  // No code: a reason written for this field by hand (the server's handler, or this sidebar's cap check).
  if (!e.code) return e.reason;
  const key = `field.invalid.${e.code}`;
  if (e.code !== "custom" && hasMessage(key)) return t(key as Parameters<typeof t>[0], vars);
  if (currentLanguage() === "en") return e.reason;
  return tOr(`field.invalid.${e.code === "custom" ? "custom" : "invalid"}`, e.reason);
}
