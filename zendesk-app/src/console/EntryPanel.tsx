import { useEffect, useRef, useState } from "preact/hooks";
import type { ConsoleEntryView } from "../../../shared/schemas/console";
import type { ConsoleContext } from "./context";
import { actionLabel, consoleLocale, ct, type ConsoleKey } from "./i18n";
import { formatInZone } from "./time";

const show = (v: unknown) => (v === null || v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v));

/** One entry: what changed (before → after), its ticket (Open ticket via Zendesk), chain status, timelines. */
export function EntryPanel({ ctx, seq, onClose }: { ctx: ConsoleContext; seq: number; onClose: () => void }) {
  const [view, setView] = useState<ConsoleEntryView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const panel = useRef<HTMLElement>(null);
  // Focus moves into the panel as it opens (it is drawn over the table, after every row in tab order).
  useEffect(() => panel.current?.focus(), [seq]);
  useEffect(() => {
    setView(null);
    setError(null);
    ctx.api.get<ConsoleEntryView>(`/api/console/entries/${seq}`).then(setView, (err: Error) => setError(err.message));
  }, [seq]);
  return (
    <aside class="entry-panel" data-testid="entry" aria-label={ct("entry.title", { seq })} tabIndex={-1} ref={panel} onKeyDown={(k) => k.key === "Escape" && onClose()}>
      <header>
        <h2>{ct("entry.title", { seq })}</h2>
        <button class="c-btn c-btn--sm" onClick={onClose}>
          {ct("entry.close")}
        </button>
      </header>
      {error && <p role="alert">{ct("error", { detail: error })}</p>}
      {!view && !error && <p class="muted">{ct("loading")}</p>}
      {view && (
        <>
          <p>
            <strong>{actionLabel(view.entry.action)}</strong> · {formatInZone(view.entry.occurredAt, consoleLocale(), ctx.agent.timeZone)} · {view.entry.actor.email ?? view.entry.actor.system} ·{" "}
            {ct(`outcome.${view.entry.outcome}` as ConsoleKey)}
          </p>
          {view.entry.reason && (
            <p>
              {ct("entry.reason")}: {view.entry.reason}
            </p>
          )}
          {view.entry.error && (
            <p>
              {ct("entry.error")}: {view.entry.error}
            </p>
          )}
          <h3>{ct("entry.diff")}</h3>
          {view.diff.length === 0 ? (
            <p class="muted">{ct("entry.no_diff")}</p>
          ) : (
            <table class="diff" data-testid="diff">
              <thead>
                <tr>
                  <th />
                  <th>{ct("entry.before")}</th>
                  <th>{ct("entry.after")}</th>
                </tr>
              </thead>
              <tbody>
                {view.diff.map((d) => (
                  <tr key={d.path} data-path={d.path} data-change={d.change}>
                    <th scope="row">{d.path}</th>
                    <td class="before">{d.change === "added" ? "" : show(d.before)}</td>
                    <td class="after">{d.change === "removed" ? "" : show(d.after)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {view.ticket && (
            <section data-testid="entry-ticket">
              <h3>{ct("entry.ticket")}</h3>
              {view.ticket.fromSnapshot ? (
                <dl class="facts">
                  <dt>#{view.ticket.id}</dt>
                  <dd>{view.ticket.subject}</dd>
                  <dt>{ct("entry.status")}</dt>
                  <dd>{view.ticket.status}</dd>
                  <dt>{ct("entry.requester")}</dt>
                  <dd>{[view.ticket.requester?.name, view.ticket.requester?.email].filter(Boolean).join(" ")}</dd>
                  <dt>{ct("entry.match")}</dt>
                  <dd>{view.ticket.match}</dd>
                </dl>
              ) : (
                <p>{ct("entry.ticket_unknown", { ticket: view.ticket.id })}</p>
              )}
              <div class="buttons">
                <button class="c-btn c-btn--sm c-btn--primary" data-testid="open-ticket" onClick={() => void ctx.host.openTicket(view.ticket?.id ?? "")}>
                  {ct("entry.open_ticket")}
                </button>
                <button class="c-btn c-btn--sm" data-testid="ticket-timeline" onClick={() => ctx.goTo("explorer", { ticketId: view.ticket?.id ?? "", order: "asc" })}>
                  {ct("entry.ticket_timeline")}
                </button>
              </div>
            </section>
          )}
          {view.entry.actor.staffId && (ctx.seesAll || view.entry.actor.staffId === ctx.me.staffId) && (
            <button class="c-btn c-btn--sm" data-testid="agent-timeline" onClick={() => ctx.goTo("explorer", { actor: view.entry.actor.staffId ?? "", order: "asc" })}>
              {ct("entry.agent_timeline")}
            </button>
          )}
          <h3>{ct("entry.chain")}</h3>
          <p data-testid="chain" data-status={view.chain.status} data-mac={view.chain.mac}>
            {ct(`chain.${view.chain.status}` as ConsoleKey, { seq: view.chain.chainSeq ?? "" })} · {ct(`chain.mac.${view.chain.mac}` as ConsoleKey)}
          </p>
        </>
      )}
    </aside>
  );
}
