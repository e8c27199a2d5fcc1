import { useEffect, useMemo, useState } from "preact/hooks";
import type { Session } from "../api/session";
import { createStewardApi } from "../api/steward";
import { loadMoreStrings, t } from "../i18n";
import { ServicesContext, type Services } from "../state/services";
import { useRequesterContext } from "../state/useRequesterContext";
import { useStaff } from "../state/useStaff";
import { useTicket } from "../state/useTicket";
import type { ZendeskHost } from "../zaf/client";
import { CustomerTab } from "./CustomerTab";
import { lazyView } from "./lazyView";
import { Notice } from "./parts";

/** The history tab is opened on few tickets: loaded when it is. */
const AuditTab = lazyView(() => Promise.all([import("./AuditTab"), loadMoreStrings()]).then(([m]) => m.AuditTab));

type Tab = "customer" | "history";

function Sidebar({ services }: { services: Services }) {
  const control = useRequesterContext(services.api, services.ticket);
  const session = useStaff(services.api);
  const [tab, setTab] = useState<Tab>("customer");
  const [historyVersion, setHistoryVersion] = useState(0);
  const accountId = control.state.kind === "loaded" && control.state.context.account.status === "ok" ? control.state.context.account.data.id : null;

  const tabs: [Tab, string][] = [
    ["customer", t("tab.customer")],
    ["history", t("tab.history")],
  ];
  const choose = (next: Tab) => {
    if (next === "history") setHistoryVersion((v) => v + 1); // always show the newest entries
    setTab(next);
  };
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern); Tab goes on into the panel.
  const onTabKey = (event: KeyboardEvent) => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    const index = tabs.findIndex(([id]) => id === tab);
    const [next] = tabs[(index + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length] as [Tab, string];
    choose(next);
    document.getElementById(`tab-${next}`)?.focus();
  };
  return (
    <ServicesContext.Provider value={services}>
      <div class="tabs" role="tablist" aria-label={t("tab.label")} onKeyDown={onTabKey}>
        {tabs.map(([id, label]) => (
          <button
            key={id}
            type="button"
            role="tab"
            id={`tab-${id}`}
            aria-controls={`panel-${id}`}
            aria-selected={tab === id}
            tabIndex={tab === id ? 0 : -1}
            class={tab === id ? "tab tab--on" : "tab"}
            onClick={() => choose(id)}
          >
            {label}
          </button>
        ))}
        {session && (
          <span class="agent" data-testid="agent" data-role={session.staff.panelRole} title={session.staff.email ?? ""}>
            {t(`panel_role.${session.staff.panelRole}`)}
          </span>
        )}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === "customer" ? <CustomerTab control={control} session={session} /> : <AuditTab accountId={accountId} version={historyVersion} />}
      </div>
    </ServicesContext.Provider>
  );
}

/** Reads the ticket, then builds the API client bound to it; a new ticket id rebuilds everything. */
export function App({ zendesk, session }: { zendesk: ZendeskHost; session: Session }) {
  const { ticket, error } = useTicket(zendesk);
  const [expired, setExpired] = useState(false);
  useEffect(() => {
    session.keepFresh();
    const off = session.onChange((state) => setExpired(state === "expired"));
    return () => {
      off();
      session.stop();
    };
  }, [session]);
  const api = useMemo(() => (ticket ? createStewardApi(session, ticket.ticketId) : null), [session, ticket?.ticketId]);
  const services = useMemo<Services | null>(() => (api && ticket ? { zendesk, session, api, ticket } : null), [api, ticket, zendesk, session]);

  if (error) return <Notice tone="error">{t("boot.no_ticket", { message: error })}</Notice>;
  return (
    <>
      {expired && <Notice tone="error">{t("boot.session_expired")}</Notice>}
      {services ? <Sidebar services={services} /> : <p class="muted">{t("common.loading")}</p>}
    </>
  );
}
