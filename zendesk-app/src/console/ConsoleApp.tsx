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
  const Active = (tabs.find((t) => t.id === tab) ?? tabs[0])?.component;
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
      <nav class="tab-bar" role="tablist">
        {tabs.map((t) => (
          <button key={t.id} role="tab" data-tab={t.id} aria-selected={t.id === tab} class={t.id === tab ? "tab active" : "tab"} onClick={() => setTab(t.id)}>
            {t.label()}
          </button>
        ))}
      </nav>
      <main>{Active && <Active ctx={ctx} />}</main>
    </div>
  );
}
