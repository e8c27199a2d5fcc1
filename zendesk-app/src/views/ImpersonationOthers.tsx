import { useRef, useState } from "preact/hooks";
import type { ProblemDetails } from "../../../shared/problem";
import type { SessionStatus } from "../../../shared/schemas/impersonation";
import { StewardApiError } from "../api/steward";
import { dateOrTime } from "../format";
import { t } from "../i18n";
import { useServices } from "../state/services";
import { Notice, ProblemNotice } from "./parts";

/**
 * Other agents' live sessions on the customer: from this ticket (a warning, so two agents do not act
 * unawares) and from other tickets (a list); operations and admin may end any of them, with a reason
 * and a confirmation. The other agent's product tab then ends on its next status check (the kit).
 */
export type OtherSession = SessionStatus & { targetVersion: number; mine: boolean };

export const agentName = (s: OtherSession) => s.agent.name ?? s.agent.email ?? s.agent.zendeskUserId;

function problemOf(err: unknown): ProblemDetails {
  return err instanceof StewardApiError ? err.problem : { type: "about:blank", title: String(err), status: 0 };
}

interface Props {
  here: OtherSession[];
  elsewhere: OtherSession[];
  now: number;
  /** Whether this agent may end another agent's session (the server's rule, END_OTHERS_SESSION_MIN_ROLE). */
  canEnd: boolean;
  onEnded: (session: OtherSession) => void;
}

export function OtherSessions({ here, elsewhere, now, canEnd, onEnded }: Props) {
  return (
    <>
      {here.map((s) => (
        <div key={s.sid} class="imp-other" data-sid={s.sid}>
          <Notice tone="warning" testId="imp-other-live">
            {t("imp.other_live", { agent: agentName(s), mode: t(`imp.mode.${s.mode}`), since: dateOrTime(s.startedAt, now) })}
          </Notice>
          {canEnd && <EndOtherSession session={s} onEnded={onEnded} />}
        </div>
      ))}
      {elsewhere.length > 0 && (
        <>
          <h3 id="imp-elsewhere-title">{t("imp.elsewhere")}</h3>
          <ul class="imp-past imp-elsewhere" data-testid="imp-elsewhere" aria-labelledby="imp-elsewhere-title">
            {elsewhere.map((s) => (
              <li key={s.sid} data-sid={s.sid} data-ticket={s.ticket}>
                <span data-testid="imp-elsewhere-row">{t("imp.elsewhere_row", { agent: agentName(s), ticket: s.ticket, mode: t(`imp.mode.${s.mode}`), ends: dateOrTime(s.endsAt, now) })}</span>
                {canEnd && <EndOtherSession session={s} onEnded={onEnded} />}
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

/** End another agent's session: a button naming the agent, then a reason and a confirmation (Escape or Cancel backs out). */
function EndOtherSession({ session, onEnded }: { session: OtherSession; onEnded: (session: OtherSession) => void }) {
  const { api, ticket } = useServices();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ProblemDetails | null>(null);
  const opener = useRef<HTMLButtonElement>(null);
  const agent = agentName(session);
  const reasonId = `imp-end-reason-${session.sid}`;

  const cancel = () => {
    setOpen(false);
    setProblem(null);
    // Focus back where the agent was, not lost to the page (the form it was in is gone).
    setTimeout(() => opener.current?.focus(), 0);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      // On this ticket (the agent's reason and the audit entry are here); the ended session's own ticket gets its note.
      await api.post("/api/actions/impersonation.stop", { ticketId: ticket.ticketId, reason, target: { type: "user", id: session.user.id }, expectedVersion: session.targetVersion, input: { sessionId: session.sid } });
      onEnded(session);
    } catch (err) {
      setProblem(problemOf(err));
      setBusy(false);
    }
  };

  if (!open) {
    return (
      <button
        type="button"
        ref={opener}
        class="c-btn c-btn--sm c-btn--danger"
        onClick={() => {
          setOpen(true);
          setTimeout(() => document.getElementById(reasonId)?.focus(), 0);
        }}
        data-testid="imp-end-other"
        data-sid={session.sid}
      >
        {t("imp.end_other", { agent })}
      </button>
    );
  }
  return (
    <form class="imp-end-other" onSubmit={submit} onKeyDown={(e) => e.key === "Escape" && !busy && cancel()} data-testid="imp-end-other-form" data-sid={session.sid}>
      {problem && <ProblemNotice focus problem={problem} />}
      <div class="c-field">
        <label class="c-field__label" for={reasonId}>
          {t("imp.end_other_reason")}
        </label>
        <textarea id={reasonId} class="c-field__input c-field__input--area" minLength={3} maxLength={500} required value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </div>
      <p class="muted">{t("imp.end_other_confirm", { agent, ticket: session.ticket })}</p>
      <button type="submit" class="c-btn c-btn--sm c-btn--danger" disabled={busy} data-testid="imp-end-other-confirm">
        {busy ? t("imp.ending") : t("imp.end_other_go", { agent })}
      </button>{" "}
      <button type="button" class="c-btn c-btn--sm" disabled={busy} onClick={cancel} data-testid="imp-end-other-cancel">
        {t("common.cancel")}
      </button>
    </form>
  );
}
