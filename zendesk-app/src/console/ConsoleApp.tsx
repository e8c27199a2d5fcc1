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
  const current = (tabs.find((t) => t.id === tab) ?? tabs[0])?.id;
  const Active = tabs.find((t) => t.id === current)?.component;
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern, as in the sidebar); Tab goes on into the panel.
  const onTabKey = (event: KeyboardEvent) => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    const index = tabs.findIndex((t) => t.id === current);
    const next = tabs[(index + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    if (!next) return;
    setTab(next.id);
    document.getElementById(`console-tab-${next.id}`)?.focus();
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
      <nav class="tab-bar" role="tablist" onKeyDown={onTabKey}>
        {tabs.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`console-tab-${t.id}`}
            aria-controls={`console-panel-${t.id}`}
            data-tab={t.id}
            aria-selected={t.id === current}
            tabIndex={t.id === current ? 0 : -1}
            class={t.id === current ? "tab active" : "tab"}
            onClick={() => setTab(t.id)}
          >
            {t.label()}
          </button>
        ))}
      </nav>
      <main>
        <div role="tabpanel" id={`console-panel-${current}`} aria-labelledby={`console-tab-${current}`}>
          {Active && <Active ctx={ctx} />}
        </div>
      </main>
    </div>
  );
}
