import { useEffect, useRef, useState } from "preact/hooks";
import { actionRules, END_OTHERS_SESSION_MIN_ROLE } from "../../../shared/actions";
import type { ProblemDetails } from "../../../shared/problem";
import type { ActionAvailability } from "../../../shared/schemas/availability";
import { roleAtLeast } from "../../../shared/roles";
import type { RequesterContext } from "../../../shared/schemas/context";
import type { SessionInfo } from "../../../shared/schemas/session";
import { StewardApiError } from "../api/steward";
import { dateOrTime, dateTime } from "../format";
import { plural, t, tOr } from "../i18n";
import { useServices } from "../state/services";
import { unavailableText } from "./ActionButtons";
import { OtherSessions, agentName, type OtherSession } from "./ImpersonationOthers";
import { Card, Notice, ProblemNotice } from "./parts";

/**
 * "View as customer": start a ticket-linked session in the product (mode, duration, reason), then a
 * live card with the countdown, the action count and End; the ticket's past sessions below. The
 * product opens in a new tab; the server enforces modes, caps and every refusal.
 */
type AgentSession = OtherSession;
interface TicketSessions {
  live: AgentSession | null;
  sessions: AgentSession[];
  /** The customer's live sessions from any ticket (asked with userId). */
  customerLive: AgentSession[];
}

const rule = actionRules["impersonation.start"];

function left(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function problemOf(err: unknown): ProblemDetails {
  return err instanceof StewardApiError ? err.problem : { type: "about:blank", title: String(err), status: 0 };
}

/**
 * `availability`: the server's word on impersonation.start for this requester (blocked, account closed,
 * staff, cap used up): said instead of a form it would refuse. `onChanged`: starting and ending change
 * the user's version, so the context is read again (else the next start would be refused as stale).
 */
export function ImpersonationCard({ context, session, availability, onChanged }: { context: RequesterContext; session: SessionInfo; availability?: ActionAvailability; onChanged: () => void }) {
  const { api, ticket } = useServices();
  const [data, setData] = useState<TicketSessions | null>(null);
  const [problem, setProblem] = useState<ProblemDetails | null>(null);
  const [busy, setBusy] = useState(false);
  const [now, setNow] = useState(Date.now());
  const [reload, setReload] = useState(0);
  // Whether the customer is mailed at start and end (an admin may turn it off): the form says which; unknown says neither.
  const [notices, setNotices] = useState<boolean | null>(null);
  const modes = Object.entries(rule.modes.minRoles)
    .filter(([, min]) => roleAtLeast(session.staff.panelRole, min))
    .map(([mode]) => mode);
  const cap = session.permissions["impersonation.start"]?.cap?.limit ?? 30;
  const [mode, setMode] = useState(modes[0] ?? "read_only");
  const [minutes, setMinutes] = useState(String(Math.min(30, cap)));
  const [reason, setReason] = useState("");
  // Where focus goes once the card changes under it (the Start or End button it was on is gone).
  const focusNext = useRef<"live" | "form" | null>(null);
  const liveBox = useRef<HTMLDivElement>(null);
  // Another agent's session this agent just ended: said until the card changes again.
  const [endedOther, setEndedOther] = useState<AgentSession | null>(null);
  const userId = context.user?.id;

  useEffect(() => {
    let cancelled = false;
    const customer = userId ? `?userId=${encodeURIComponent(userId)}` : "";
    api.get<TicketSessions>(`/api/impersonation/tickets/${ticket.ticketId}/sessions${customer}`).then(
      (body) => !cancelled && setData(body),
      (err: unknown) => !cancelled && setProblem(problemOf(err)),
    );
    return () => {
      cancelled = true;
    };
  }, [api, ticket.ticketId, userId, reload]);

  useEffect(() => {
    let cancelled = false;
    api.get<{ customerNotices: boolean }>("/api/impersonation/settings").then(
      (body) => !cancelled && setNotices(body.customerNotices),
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [api]);

  const live = data?.live ?? null;
  // Another agent viewing this customer from this ticket right now: said, so two agents do not act unawares.
  const othersLive = (data?.sessions ?? []).filter((s) => s.status === "live" && !s.mine);
  // And from other tickets: the card would not know of them otherwise.
  const othersElsewhere = (data?.customerLive ?? []).filter((s) => !s.mine && s.ticket !== ticket.ticketId);
  const canEndOthers = roleAtLeast(session.staff.panelRole, END_OTHERS_SESSION_MIN_ROLE);
  // Any live session here is watched (its countdown, its count, its end), the agent's own or another's.
  const watched = [live?.sid, ...othersLive.map((s) => s.sid), ...othersElsewhere.map((s) => s.sid)].filter(Boolean).join(" ");
  useEffect(() => {
    if (focusNext.current === "live" && live) liveBox.current?.focus();
    else if (focusNext.current === "form" && !live) document.getElementById("imp-mode")?.focus();
    else return;
    focusNext.current = null;
  }, [live?.sid]);
  useEffect(() => {
    if (!watched) return;
    const tick = setInterval(() => setNow(Date.now()), 1000);
    const poll = setInterval(() => setReload((n) => n + 1), 5000);
    return () => {
      clearInterval(tick);
      clearInterval(poll);
    };
  }, [watched]);

  const user = context.user;
  if (!user || !session.permissions["impersonation.start"]?.allowed) return null;

  const start = async (event: Event) => {
    event.preventDefault();
    // Opened now, in the click, so pop-up blockers let it through; pointed at the product once the grant is here.
    const tab = window.open("", "_blank");
    setBusy(true);
    setProblem(null);
    setEndedOther(null);
    try {
      const response = await api.post<{ result: { openUrl: string } }>("/api/actions/impersonation.start", {
        ticketId: ticket.ticketId,
        reason,
        target: { type: "user", id: user.id },
        expectedVersion: user.version,
        input: { mode, minutes: Number(minutes) },
      });
      if (tab) {
        tab.opener = null;
        tab.location.href = response.result.openUrl;
      } else setProblem({ type: "about:blank", title: t("imp.popup_blocked"), status: 0 });
      setReason("");
      focusNext.current = "live";
      onChanged();
    } catch (err) {
      tab?.close();
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
      setReload((n) => n + 1);
    }
  };

  const end = async () => {
    if (!live) return;
    setBusy(true);
    setEndedOther(null);
    try {
      await api.post("/api/actions/impersonation.stop", { ticketId: ticket.ticketId, reason: "Ended from the sidebar", target: { type: "user", id: live.user.id }, expectedVersion: live.targetVersion, input: { sessionId: live.sid } });
      focusNext.current = "form";
      onChanged();
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
      setReload((n) => n + 1);
    }
  };

  const endedOtherSession = (ended: AgentSession) => {
    setProblem(null);
    setEndedOther(ended);
    // Ending changed the user's version (the next start must not be refused as stale).
    onChanged();
    setReload((n) => n + 1);
  };

  const past = (data?.sessions ?? []).filter((s) => s.status === "ended");
  // The agent's own live session is this card's to show (its own reading is fresher than the availability's).
  const unavailable = availability?.status === "unavailable" && availability.code !== "session_already_live" ? availability : null;
  return (
    <Card id="impersonation" title={t("imp.title")}>
      {problem && <ProblemNotice focus problem={problem} />}
      {live && live.ticket !== ticket.ticketId && (
        // The agent's own session from another ticket may be on this very customer: not "another customer" then.
        <Notice tone="warning" testId="imp-live-elsewhere">
          {t(live.user.id === user.id ? "imp.live_other_ticket" : "imp.live_elsewhere", { ticket: live.ticket })}
        </Notice>
      )}
      {endedOther && (
        <Notice tone="success" testId="imp-ended-other" focus>
          {t("imp.ended_other", { agent: agentName(endedOther), ticket: endedOther.ticket })}
        </Notice>
      )}
      <OtherSessions here={othersLive} elsewhere={othersElsewhere} now={now} canEnd={canEndOthers} onEnded={endedOtherSession} />
      {live ? (
        <div class="imp-live" data-testid="imp-live" data-sid={live.sid} tabIndex={-1} ref={liveBox}>
          <p>
            <strong>{t("imp.live", { name: live.user.name })}</strong> · {t(`imp.mode.${live.mode}`)}
          </p>
          <p>
            <span data-testid="imp-countdown">
              {/* The nearer deadline is often the idle one, which activity in the product moves on: say so, and the latest end. */}
              {live.endsAt === live.absoluteDeadline
                ? t("imp.ends_in", { time: left(Date.parse(live.endsAt) - now) })
                : t("imp.ends_in_idle", { time: left(Date.parse(live.endsAt) - now), latest: dateOrTime(live.absoluteDeadline, now) })}
            </span> · <span data-testid="imp-actions">{plural("imp.actions", live.actionCount)}</span>
          </p>
          <button type="button" class="c-btn c-btn--sm c-btn--danger" disabled={busy} onClick={end} data-testid="imp-end">
            {t("imp.end")}
          </button>
        </div>
      ) : user.impersonationProtected ? (
        // The server refuses them anyway (target_protected); say so instead of offering a form that cannot work.
        <Notice tone="info" testId="imp-protected">
          {t("imp.protected")}
        </Notice>
      ) : unavailable ? (
        <Notice tone="info" testId="imp-unavailable">
          {t("imp.unavailable", { why: unavailableText(unavailable, context) })}
        </Notice>
      ) : (
        <form onSubmit={start} data-testid="imp-form">
          <div class="c-field">
            <label class="c-field__label" for="imp-mode">
              {t("imp.mode")}
            </label>
            <select id="imp-mode" class="c-field__input c-field__input--select" value={mode} onChange={(e) => setMode(e.currentTarget.value)}>
              {modes.map((m) => (
                <option key={m} value={m}>
                  {tOr(`imp.mode.${m}`, m)}
                </option>
              ))}
            </select>
          </div>
          <div class="c-field">
            <label class="c-field__label" for="imp-minutes">
              {t("imp.minutes", { max: cap })}
            </label>
            <input id="imp-minutes" class="c-field__input" type="number" required min={1} max={cap} step={1} value={minutes} onInput={(e) => setMinutes(e.currentTarget.value)} />
          </div>
          <div class="c-field">
            <label class="c-field__label" for="imp-reason">
              {t("imp.reason")}
            </label>
            <textarea id="imp-reason" class="c-field__input c-field__input--area" minLength={10} required value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </div>
          {notices !== null && (
            <p class="muted" data-testid="imp-notice">
              {t(notices ? "imp.notice" : "imp.notice_off")}
            </p>
          )}
          <button type="submit" class="c-btn c-btn--sm c-btn--primary" disabled={busy} data-testid="imp-start">
            {busy ? t("imp.starting") : t("imp.start")}
          </button>
        </form>
      )}
      {past.length > 0 && (
        <>
          <h3>{t("imp.past")}</h3>
          <ul class="imp-past" data-testid="imp-past">
            {past.map((s) => (
              <li key={s.sid} data-sid={s.sid} data-end-reason={s.endReason ?? ""}>
                {t("imp.past_row", { agent: agentName(s), mode: t(`imp.mode.${s.mode}`), when: dateTime(s.startedAt), actions: plural("imp.actions", s.actionCount), reason: tOr(`imp.end_reason.${s.endReason ?? ""}`, s.endReason ?? "") })}
              </li>
            ))}
          </ul>
        </>
      )}
    </Card>
  );
}
