import { useEffect, useRef, useState } from "preact/hooks";
import type { SettingDeclaration, SettingValue, SettingsDeclaration } from "../../../shared/directory/contract";
import type { ProblemDetails } from "../../../shared/problem";
import type { RequesterContext } from "../../../shared/schemas/context";
import type { SessionInfo } from "../../../shared/schemas/session";
import { IntentKeys, runAction, settlesIntent } from "../actions/runAction";
import { StewardApiError } from "../api/steward";
import { t } from "../i18n";
import { useServices } from "../state/services";
import { Card, Notice, ProblemNotice } from "./parts";

/**
 * The user's settings support may change (user.settings_change), as a form built from the product's
 * declaration (GET /api/directory/settings): a select for an enum, a checkbox for a flag, a text or
 * number box otherwise. Only the settings the agent changed are sent; the server checks them again.
 */
type Draft = Record<string, string | boolean>;

function problemOf(err: unknown): ProblemDetails {
  return err instanceof StewardApiError ? err.problem : { type: "about:blank", title: t("common.error"), status: 0, detail: (err as Error).message };
}

function draftOf(declared: SettingDeclaration[], current: Record<string, SettingValue>): Draft {
  return Object.fromEntries(declared.map((d) => [d.key, d.type === "boolean" ? current[d.key] === true : String(current[d.key] ?? "")]));
}

/** What the form says that differs from what the user has, typed as declared. */
function changesOf(declared: SettingDeclaration[], draft: Draft, current: Record<string, SettingValue>): Record<string, SettingValue> {
  const changes: Record<string, SettingValue> = {};
  for (const d of declared) {
    const raw = draft[d.key];
    const value = d.type === "boolean" ? raw === true : d.type === "number" ? Number(raw) : String(raw ?? "");
    if (value !== (current[d.key] ?? (d.type === "boolean" ? false : d.type === "number" ? Number.NaN : ""))) changes[d.key] = value;
  }
  return changes;
}

export function SettingsCard({ context, session, onChanged }: { context: RequesterContext; session: SessionInfo; onChanged(): void }) {
  const { api, ticket } = useServices();
  const user = context.user;
  const [declared, setDeclared] = useState<SettingDeclaration[] | null>(null);
  const [draft, setDraft] = useState<Draft>({});
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ProblemDetails | null>(null);
  const [saved, setSaved] = useState(false);
  const intentKeys = useRef(new IntentKeys());
  const allowed = session.permissions["user.settings_change"]?.allowed === true;

  useEffect(() => {
    if (!allowed) return;
    let live = true;
    api.get<SettingsDeclaration>("/api/directory/settings").then(
      (body) => live && setDeclared(body.settings),
      (err: unknown) => live && setProblem(problemOf(err)),
    );
    return () => {
      live = false;
    };
  }, [api, allowed]);
  // A new user, or the same one reloaded after a change: the form shows what they have now.
  useEffect(() => {
    if (declared && user) setDraft(draftOf(declared, user.settings));
  }, [declared, user?.id, user?.version]);

  if (!allowed || !user || user.status === "deleted" || (declared !== null && declared.length === 0 && !problem)) return null;
  const errors = new Map((problem?.errors ?? []).map((e) => [e.field.replace(/^body\.input\.settings\./, ""), e.reason]));
  const changes = declared ? changesOf(declared, draft, user.settings) : {};

  const save = async (event: Event) => {
    event.preventDefault();
    if (!declared) return;
    setBusy(true);
    setProblem(null);
    setSaved(false);
    const body = { ticketId: ticket.ticketId, reason, target: { type: "user" as const, id: user.id }, expectedVersion: user.version, input: { settings: changes } };
    try {
      await runAction(api, "user.settings_change", body, intentKeys.current.keyFor(body));
      intentKeys.current.settle();
      setSaved(true);
      setReason("");
      onChanged();
    } catch (err) {
      const p = problemOf(err);
      if (settlesIntent(p.status, p.code)) intentKeys.current.settle();
      setProblem(p);
    } finally {
      setBusy(false);
    }
  };

  const id = (key: string) => `setting-${key}`;
  const described = (key: string) => ({ "aria-invalid": errors.has(key), "aria-describedby": errors.has(key) ? `${id(key)}-error` : undefined });
  return (
    <Card id="settings" title={t("settings.title")} source={context.sources.user}>
      {problem && <ProblemNotice focus problem={problem} skipFields={[...errors.keys()].map((k) => `body.input.settings.${k}`)} />}
      {saved && (
        <Notice tone="success" testId="settings-saved" focus>
          {t("settings.saved")}
        </Notice>
      )}
      {declared && (
        <form onSubmit={save} data-testid="settings-form">
          {declared.map((d) => (
            <div class="c-field" key={d.key}>
              {d.type === "boolean" ? (
                <label class="setting-flag" for={id(d.key)}>
                  <input id={id(d.key)} type="checkbox" name={d.key} checked={draft[d.key] === true} onChange={(e) => setDraft({ ...draft, [d.key]: e.currentTarget.checked })} {...described(d.key)} /> {d.label}
                </label>
              ) : (
                <>
                  <label class="c-field__label" for={id(d.key)}>
                    {d.label}
                  </label>
                  {d.type === "enum" ? (
                    <select id={id(d.key)} name={d.key} class="c-field__input c-field__input--select" value={String(draft[d.key] ?? "")} onChange={(e) => setDraft({ ...draft, [d.key]: e.currentTarget.value })} {...described(d.key)}>
                      {draft[d.key] === "" && <option value="">{t("settings.unset")}</option>}
                      {(d.values ?? []).map((v) => (
                        <option key={v} value={v}>
                          {v}
                        </option>
                      ))}
                    </select>
                  ) : (
                    <input id={id(d.key)} name={d.key} class="c-field__input" type={d.type === "number" ? "number" : "text"} maxLength={d.maxLength} value={String(draft[d.key] ?? "")} onInput={(e) => setDraft({ ...draft, [d.key]: e.currentTarget.value })} {...described(d.key)} list={undefined} />
                  )}
                </>
              )}
              {errors.has(d.key) && (
                <p id={`${id(d.key)}-error`} class="c-field__message" role="alert" data-testid={`${id(d.key)}-error`}>
                  {errors.get(d.key)}
                </p>
              )}
            </div>
          ))}
          <div class="c-field">
            <label class="c-field__label" for="settings-reason">
              {t("settings.reason")}
            </label>
            <textarea id="settings-reason" class="c-field__input c-field__input--area" minLength={3} required value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </div>
          <button type="submit" class="c-btn c-btn--sm c-btn--primary" disabled={busy || Object.keys(changes).length === 0} data-testid="settings-save">
            {busy ? t("settings.saving") : t("settings.save")}
          </button>
        </form>
      )}
    </Card>
  );
}
