import { useEffect, useRef, useState } from "preact/hooks";
import { actionNames } from "../../../shared/actions";
import type { AuditOutcome } from "../../../shared/audit";
import { actionGroupOf, flagRules } from "../../../shared/flags";
import type { ConsolePage, FlaggedEntry } from "../../../shared/schemas/console";
import type { ConsoleContext, ExplorerQuery } from "./context";
import { EntryPanel } from "./EntryPanel";
import { ExportButtons } from "./ExportButtons";
import { actionLabel, consoleLanguage, consoleLocale, ct, groupLabel, type ConsoleKey } from "./i18n";
import { formatInZone, utcToZoned, zonedToUtc } from "./time";

const groups = [...new Set(actionNames.map(actionGroupOf))];
// Listed here, not imported: shared/audit.ts builds zod schemas at load, which would pull zod into the bundle.
const auditOutcomes = ["succeeded", "failed", "denied", "unknown", "pending"] as const satisfies readonly AuditOutcome[];
const TEXT_FIELDS = [
  ["actor", "filter.agent"],
  ["ticketId", "filter.ticket"],
  ["targetAccountId", "filter.account"],
  ["targetUserId", "filter.user"],
] as const;
const PAGE = 50;

/** Filter form values: dates as wall time in the agent's zone. */
type Form = Record<string, string>;

function toForm(query: ExplorerQuery, zone: string): Form {
  const form: Form = { ...query };
  for (const k of ["from", "to"]) if (query[k]) form[k] = utcToZoned(query[k] as string, zone);
  return form;
}

function toQuery(form: Form, zone: string, keep: ExplorerQuery): ExplorerQuery {
  const query: ExplorerQuery = {};
  for (const [k, v] of Object.entries(form)) if (v.trim()) query[k] = v.trim();
  for (const k of ["from", "to"]) {
    const utc = form[k] ? zonedToUtc(form[k] as string, zone) : null;
    if (utc) query[k] = utc;
    else delete query[k];
  }
  if (keep.order) query.order = keep.order;
  return query;
}

function Select(props: { name: string; label: string; value: string; options: [string, string][]; onChange: (v: string) => void }) {
  return (
    <label class="field">
      <span class="c-field__label">{props.label}</span>
      <select class="c-field__input c-field__input--select" name={props.name} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        <option value="">{ct("filter.any")}</option>
        {props.options.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The audit explorer: filters, a keyset-paged table, an entry view, the ticket and agent timelines, export. */
export function ExplorerTab({ ctx }: { ctx: ConsoleContext }) {
  const zone = ctx.agent.timeZone;
  const [query, setQuery] = useState<ExplorerQuery>(ctx.explorerQuery);
  const [form, setForm] = useState<Form>(() => toForm(ctx.explorerQuery, zone));
  const [entries, setEntries] = useState<FlaggedEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  /** What failed and whether it was a next page (retried with the cursor) or the first. */
  const [error, setError] = useState<{ detail: string; more: boolean } | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  /** The query the rows on screen answer; until the new one's page is in, the table says it is busy. */
  const [shown, setShown] = useState<ExplorerQuery | null>(null);
  /** The query asked last: a page that comes back for an earlier one (filters changed meanwhile) is dropped. */
  const latest = useRef(query);
  const table = useRef<HTMLTableSectionElement>(null);
  /** After "Load more": the first row it brought, to take the focus once drawn. */
  const focusSeq = useRef<number | null>(null);
  useEffect(() => {
    if (focusSeq.current === null) return;
    table.current?.querySelector<HTMLElement>(`tr[data-seq="${focusSeq.current}"]`)?.focus();
    focusSeq.current = null;
  }, [entries]);

  useEffect(() => {
    setQuery(ctx.explorerQuery);
    setForm(toForm(ctx.explorerQuery, zone));
  }, [ctx.explorerQuery]);

  const load = async (more: boolean) => {
    const asked = query;
    setLoading(true);
    setError(null);
    try {
      const page = await ctx.api.get<ConsolePage>("/api/console/entries", { ...query, limit: PAGE, ...(more && cursor ? { cursor } : {}) });
      if (latest.current !== asked) return;
      setEntries(more ? [...entries, ...page.entries] : page.entries);
      // The keyboard goes on where the list does, not back to the top of the page (the button may be gone).
      if (more) focusSeq.current = page.entries[0]?.seq ?? null;
      setCursor(page.nextCursor);
      setShown(asked);
    } catch (err) {
      if (latest.current !== asked) return;
      setError({ detail: (err as Error).message, more });
      // The rows on screen answer the filters asked before: without this they would read as this query's
      // answer, and "Load more" would send their cursor with these filters.
      if (!more) {
        setEntries([]);
        setCursor(null);
        setShown(asked);
      }
    } finally {
      if (latest.current === asked) setLoading(false);
    }
  };
  useEffect(() => {
    latest.current = query;
    setSelected(null);
    void load(false);
  }, [query]);
  const busy = loading || (shown !== query && !error);

  // Keyboard: Enter or Space opens a row's entry (the panel takes focus); closing it gives focus back to the row.
  const open = (k: KeyboardEvent, seq: number) => {
    if (k.key !== "Enter" && k.key !== " ") return;
    k.preventDefault();
    setSelected(seq);
  };
  const close = () => {
    const seq = selected;
    setSelected(null);
    table.current?.querySelector<HTMLElement>(`tr[data-seq="${seq}"]`)?.focus();
  };

  const set = (name: string) => (value: string) => setForm({ ...form, [name]: value });
  const apply = (e: Event) => {
    e.preventDefault();
    // Through the console, so the filters outlive a switch to another tab and a timeline's Back returns to them.
    ctx.goTo("explorer", toQuery(form, zone, query));
  };
  const lang = consoleLanguage();
  const timeline = query.order === "asc" ? (query.ticketId ? ct("timeline.ticket", { ticket: query.ticketId }) : query.actor ? ct("timeline.agent", { agent: query.actor }) : null) : null;

  return (
    <div class="explorer">
      {timeline ? (
        <div class="timeline-head" data-testid="timeline">
          <h2>{timeline}</h2>
          <button class="c-btn c-btn--sm" data-testid="timeline-back" onClick={() => ctx.goTo("explorer", ctx.explorerReturn)}>
            {ct("timeline.back")}
          </button>
        </div>
      ) : (
        <form class="filters" data-testid="filters" onSubmit={apply} aria-label={ct("filter.title")}>
          {TEXT_FIELDS.filter(([name]) => ctx.seesAll || name !== "actor").map(([name, label]) => (
            <label class="field" key={name}>
              <span class="c-field__label">{ct(label)}</span>
              <input class="c-field__input" name={name} value={form[name] ?? ""} onInput={(e) => set(name)((e.target as HTMLInputElement).value)} />
            </label>
          ))}
          <Select name="group" label={ct("filter.group")} value={form.group ?? ""} options={groups.map((g) => [g, groupLabel(g)])} onChange={set("group")} />
          <Select name="action" label={ct("filter.action")} value={form.action ?? ""} options={actionNames.map((a) => [a, actionLabel(a)])} onChange={set("action")} />
          <Select name="outcome" label={ct("filter.outcome")} value={form.outcome ?? ""} options={auditOutcomes.map((o) => [o, ct(`outcome.${o}` as ConsoleKey)])} onChange={set("outcome")} />
          <Select name="flag" label={ct("filter.flag")} value={form.flag ?? ""} options={flagRules.map((r) => [r.id, r.explain[lang]])} onChange={set("flag")} />
          {(["from", "to"] as const).map((name) => (
            <label class="field" key={name}>
              <span class="c-field__label">
                {ct(name === "from" ? "filter.from" : "filter.to")} ({zone})
              </span>
              <input class="c-field__input" type="datetime-local" name={name} value={form[name] ?? ""} onInput={(e) => set(name)((e.target as HTMLInputElement).value)} />
            </label>
          ))}
          <div class="filter-buttons">
            <button class="c-btn c-btn--primary c-btn--sm" type="submit">
              {ct("filter.apply")}
            </button>
            <button class="c-btn c-btn--sm" type="button" onClick={() => ctx.goTo("explorer", {})}>
              {ct("filter.clear")}
            </button>
          </div>
        </form>
      )}
      <ExportButtons ctx={ctx} query={query} />
      {error && (
        <p role="alert" data-testid="entries-error">
          {ct("error", { detail: error.detail })}{" "}
          <button class="c-btn c-btn--sm" onClick={() => void load(error.more)}>
            {ct("retry")}
          </button>
        </p>
      )}
      <table class="entries" data-testid="entries" aria-busy={busy ? "true" : "false"}>
        <thead>
          <tr>
            {(["col.time", "col.agent", "col.action", "col.target", "col.ticket", "col.outcome", "col.flags"] as const).map((k) => (
              <th key={k}>{ct(k)}</th>
            ))}
          </tr>
        </thead>
        <tbody ref={table}>
          {entries.map((e) => (
            <tr key={e.seq} data-seq={e.seq} aria-selected={selected === e.seq} onClick={() => setSelected(e.seq)} tabIndex={0} onKeyDown={(k) => open(k, e.seq)}>
              <td data-col="time">
                <time dateTime={e.occurredAt}>{formatInZone(e.occurredAt, consoleLocale(), zone)}</time>
              </td>
              <td data-col="agent">{e.actor.email ?? e.actor.system ?? e.actor.staffId ?? "—"}</td>
              <td data-col="action">{actionLabel(e.action)}</td>
              <td data-col="target">{[e.target.type, e.target.id].filter(Boolean).join(" ")}</td>
              <td data-col="ticket">{e.ticketId ? `#${e.ticketId}` : "—"}</td>
              <td data-col="outcome">
                <span class={`outcome outcome--${e.outcome}`}>{ct(`outcome.${e.outcome}` as ConsoleKey)}</span>
              </td>
              <td data-col="flags">
                {e.flags.map((f) => (
                  <span key={f} class="c-tag c-tag--pill c-tag--yellow" data-flag={f} title={flagRules.find((r) => r.id === f)?.explain[lang]}>
                    <span>{f}</span>
                  </span>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!busy && entries.length === 0 && !error && <p class="muted">{ct("table.empty")}</p>}
      {loading && <p class="muted">{ct("loading")}</p>}
      {cursor && (
        // Kept while the next page loads, so the focus stays on it.
        <button class="c-btn c-btn--sm" data-testid="more" aria-disabled={loading ? "true" : "false"} onClick={() => !loading && void load(true)}>
          {ct("table.more")}
        </button>
      )}
      {selected !== null && <EntryPanel ctx={ctx} seq={selected} onClose={close} />}
    </div>
  );
}
