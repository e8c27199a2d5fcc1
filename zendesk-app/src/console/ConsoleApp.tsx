import { useEffect, useMemo, useState } from "preact/hooks";
import { roleAtLeast } from "../../../shared/roles";
import type { SessionInfo } from "../../../shared/schemas/session";
import type { Session } from "../api/session";
import { createStewardApi } from "../api/steward";
import type { ConsoleContext, ExplorerQuery } from "./context";
import type { ConsoleAgent, ConsoleHost } from "./host";
import { ct, roleLabel } from "./i18n";
import { consoleTabs } from "./tabs";

/** The console shell: who is signed in, the time zone times are shown in, and the tab bar. */
export function ConsoleApp(props: { host: ConsoleHost; session: Session; agent: ConsoleAgent }) {
  const api = useMemo(() => createStewardApi(props.session, null), [props.session]);
  const [info, setInfo] = useState<SessionInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tab, setTab] = useState("overview");
  const [explorerQuery, setExplorerQuery] = useState<ExplorerQuery>({});
  const [explorerReturn, setExplorerReturn] = useState<ExplorerQuery>({});
  useEffect(() => {
    props.session.keepFresh();
    api.get<SessionInfo>("/api/session").then(setInfo, (err: Error) => setError(err.message));
    return () => props.session.stop();
  }, []);
  if (error) return <p role="alert">{ct("error", { detail: error })}</p>;
  if (!info) return <p class="muted">{ct("loading")}</p>;
  const role = info.staff.panelRole;
  const tabs = consoleTabs.filter((t) => !t.minRole || roleAtLeast(role, t.minRole));
  const ctx: ConsoleContext = {
    api,
    session: props.session,
    host: props.host,
    agent: props.agent,
    me: { staffId: info.staff.id, email: info.staff.email, panelRole: role },
    seesAll: roleAtLeast(role, "operations"),
    explorerQuery,
    explorerReturn,
    goTo: (id, query) => {
      if (query) {
        // A timeline (oldest first) keeps the explorer's filters it was opened from, for its Back button.
        if (query.order === "asc" && explorerQuery.order !== "asc") setExplorerReturn(explorerQuery);
        setExplorerQuery(query);
      }
      setTab(id);
    },
  };
  const active = tabs.find((t) => t.id === tab) ?? tabs[0];
  const Active = active?.component;
  // WAI-ARIA tabs with automatic activation: arrows (wrapping), Home and End select the tab and focus it.
  const onTabKey = (event: KeyboardEvent) => {
    const at = tabs.findIndex((t) => t.id === active?.id);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1 + tabs.length, Home: 0, End: tabs.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    const next = tabs[to % tabs.length];
    if (!next) return;
    setTab(next.id);
    (event.currentTarget as HTMLElement).querySelector<HTMLElement>(`[data-tab="${next.id}"]`)?.focus();
  };
  return (
    <div class="console">
      <header class="console-head">
        <h1>{ct("title")}</h1>
        <span data-testid="who">
          {info.staff.email} · {roleLabel(role)}
        </span>
        <span data-testid="time-zone" data-zone={props.agent.timeZone}>
          {ct("times_in", { zone: props.agent.timeZone })}
        </span>
      </header>
      <nav class="tab-bar" role="tablist" aria-label={ct("title")} onKeyDown={onTabKey}>
        {tabs.map((t) => (
          <button
            key={t.id}
            type="button"
            id={`tab-${t.id}`}
            role="tab"
            data-tab={t.id}
            aria-selected={t.id === active?.id}
            aria-controls="console-tabpanel"
            // Roving tabindex: Tab reaches the selected tab only; the arrows move between them.
            tabIndex={t.id === active?.id ? 0 : -1}
            class={t.id === active?.id ? "tab active" : "tab"}
            onClick={() => setTab(t.id)}
          >
            {t.label()}
          </button>
        ))}
      </nav>
      <main>
        <div id="console-tabpanel" role="tabpanel" aria-labelledby={active ? `tab-${active.id}` : undefined}>
          {Active && <Active ctx={ctx} />}
        </div>
      </main>
    </div>
  );
}
