import { useEffect, useState } from "preact/hooks";
import { actionRules, type ActionName } from "../../../shared/actions";
import type { AuditEntry } from "../../../shared/audit";
import type { ProblemDetails } from "../../../shared/problem";
import type { AuditPage } from "../../../shared/schemas/audit";
import { StewardApiError } from "../api/steward";
import { dateTime } from "../format";
import { t, tOr } from "../i18n";
import { useServices } from "../state/services";
import { Badge, Card, ProblemNotice, type Tone } from "./parts";

const outcomeTone: Record<AuditEntry["outcome"], Tone> = { succeeded: "green", failed: "red", denied: "red", pending: "yellow", unknown: "yellow" };

type Loaded = { entries: AuditEntry[] } | { problem: ProblemDetails } | null;

function useAuditPage(query: Record<string, string> | null, version: number): Loaded {
  const { api } = useServices();
  const [loaded, setLoaded] = useState<Loaded>(null);
  const key = JSON.stringify(query);
  useEffect(() => {
    if (!query) return;
    let cancelled = false;
    setLoaded(null);
    api.get<AuditPage>("/api/audit", { ...query, limit: 100 }).then(
      (page) => !cancelled && setLoaded({ entries: page.entries }),
      (err: unknown) => !cancelled && setLoaded({ problem: err instanceof StewardApiError ? err.problem : { type: "about:blank", title: String(err), status: 0 } }),
    );
    return () => {
      cancelled = true;
    };
  }, [api, key, version]); // the query object is compared by value (key)
  return loaded;
}

const isLookup = (entry: AuditEntry) => actionRules[entry.action as ActionName]?.kind === "read";

/** Which mail a delivery entry is about, in words: its stored reason is the outbox's kind ("notice:user.lockout_clear mail"). */
function mailAbout(entry: AuditEntry): string | null {
  if (entry.action !== "mail.deliver" || !entry.after || typeof entry.after !== "object") return null;
  const { kind, to } = entry.after as { kind?: unknown; to?: unknown };
  if (typeof kind !== "string") return null;
  const about = kind.startsWith("notice:") ? tOr(`action.${kind.slice("notice:".length)}`, kind) : tOr(`audit.mail_kind.${kind}`, kind);
  return typeof to === "string" ? t("audit.mail_about_to", { about, to }) : about;
}

/** Which internal note a note entry is about, in words: its stored reason is the note's kind ("impersonation_ended note"). */
function noteAbout(entry: AuditEntry): string | null {
  if (entry.action !== "zendesk.note_add" || !entry.after || typeof entry.after !== "object") return null;
  const { kind } = entry.after as { kind?: unknown };
  return typeof kind === "string" ? tOr(`audit.note_kind.${kind}`, kind) : null;
}

/**
 * What the agent did inside the product, for an event the kit reported ("POST /projects"): the session's
 * reason is on its start entry, so each event says its own request instead of repeating it.
 */
function productEventAbout(entry: AuditEntry): string | null {
  if (entry.action !== "impersonation.event" || !entry.after || typeof entry.after !== "object") return null;
  const { route, object, afterEnd } = entry.after as { route?: unknown; object?: unknown; afterEnd?: unknown };
  if (typeof route !== "string") return null;
  const what = typeof object === "string" && object ? t("audit.product_event_object", { route, object }) : route;
  return afterEnd === true ? t("audit.product_event_after_end", { what }) : what;
}

/** The line under an entry that says what it was about: the mail, the note, the product request, else the agent's reason in quotes. */
function aboutOf(entry: AuditEntry): { text: string; testId: string } | null {
  const mail = mailAbout(entry);
  if (mail !== null) return { text: mail, testId: "mail-about" };
  const note = noteAbout(entry);
  if (note !== null) return { text: note, testId: "note-about" };
  const event = productEventAbout(entry);
  if (event !== null) return { text: event, testId: "product-event" };
  return entry.reason ? { text: `“${entry.reason}”`, testId: "reason" } : null;
}

function EntryList({ loaded, testId, showTicket, lookups }: { loaded: Loaded; testId: string; showTicket: boolean; lookups: boolean }) {
  if (!loaded) return <p class="muted">{t("common.loading")}</p>;
  if ("problem" in loaded) return <ProblemNotice problem={loaded.problem} />;
  const entries = lookups ? loaded.entries : loaded.entries.filter((e) => !isLookup(e));
  if (entries.length === 0) return <p class="muted">{t("audit.none")}</p>;
  return (
    <ol class="entries" data-testid={testId}>
      {entries.map((entry) => (
        <li key={entry.id} class="entry" data-action={entry.action} data-ticket={entry.ticketId ?? ""}>
          <div class="entry-line">
            <span class="entry-action">{tOr(`action.${entry.action}`, entry.action)}</span>
            <Badge tone={outcomeTone[entry.outcome]} name={`outcome-${entry.outcome}`}>
              {tOr(`outcome.${entry.outcome}`, entry.outcome)}
            </Badge>
          </div>
          <div class="muted">
            {t("audit.by", { who: entry.actor.email ?? entry.actor.staffId ?? t("audit.system"), when: dateTime(entry.occurredAt) })}
            {showTicket && entry.ticketId && ` · ${t("audit.ticket", { id: entry.ticketId })}`}
            {entry.target.id && ` · ${entry.target.id}`}
          </div>
          {aboutOf(entry) && (
            <div class="entry-reason" data-testid={aboutOf(entry)?.testId}>
              {aboutOf(entry)?.text}
            </div>
          )}
          {entry.error && <div class="entry-error">{entry.error}</div>}
        </li>
      ))}
    </ol>
  );
}

/** The ticket's Steward history: every entry recorded for this ticket, then the account's recent ones. */
export function AuditTab({ accountId, version }: { accountId: string | null; version: number }) {
  const { ticket } = useServices();
  const forTicket = useAuditPage({ ticketId: ticket.ticketId }, version);
  const forAccount = useAuditPage(accountId ? { targetAccountId: accountId } : null, version);
  // Every sidebar load is itself a lookup entry; hiding them by default keeps the changes readable.
  const [lookups, setLookups] = useState(false);
  return (
    <>
      <div class="c-field lookups-toggle">
        <input id="audit-lookups" class="c-field__checkbox" type="checkbox" checked={lookups} onChange={(e) => setLookups(e.currentTarget.checked)} />
        <label class="c-field__label" for="audit-lookups">
          {t("audit.show_lookups")}
        </label>
      </div>
      <Card id="audit-ticket" title={t("audit.ticket_title", { id: ticket.ticketId })}>
        <EntryList loaded={forTicket} testId="ticket-entries" showTicket={false} lookups={lookups} />
      </Card>
      {accountId && (
        <Card id="audit-account" title={t("audit.account_title")}>
          <EntryList loaded={forAccount} testId="account-entries" showTicket lookups={lookups} />
        </Card>
      )}
    </>
  );
}
