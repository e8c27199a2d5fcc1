import { useEffect, useState } from "preact/hooks";
import type { SessionInfo } from "../../../shared/schemas/session";
import { plural, t } from "../i18n";
import { useServices } from "../state/services";
import { customerLocaleOf, useAvailability } from "../state/useAvailability";
import type { RequesterContextControl } from "../state/useRequesterContext";
import { AccountCard } from "./AccountCard";
import { ActionsPanel } from "./ActionsPanel";
import { ActivityList } from "./ActivityList";
import { BillingCard } from "./BillingCard";
import { PartialNotice, UnresolvedNotice } from "./PartialNotice";
import { lazyView } from "./lazyView";
import { dateTime } from "../format";
import { Notice, ProblemNotice } from "./parts";
import { StaleMarker } from "./StaleMarker";
import { UserCard } from "./UserCard";

/** Views most tickets never need (within the first page's budget): loaded when first shown. */
const ImpersonationCard = lazyView(() => import("./ImpersonationCard").then((m) => m.ImpersonationCard));
const RequesterPicker = lazyView(() => import("./RequesterPicker").then((m) => m.RequesterPicker));
const ApprovalsCard = lazyView(() => import("./ApprovalsCard").then((m) => m.ApprovalsCard));
const SettingsCard = lazyView(() => import("./SettingsCard").then((m) => m.SettingsCard));

/** Marks the first paint of a loaded context (read by the sidebar timing script). */
function markPainted(): void {
  if (performance.getEntriesByName("steward:context-painted").length === 0) {
    requestAnimationFrame(() => performance.mark("steward:context-painted"));
  }
}

/** The requester's user, account, billing and activity, and the actions the agent may take. */
export function CustomerTab({ control, session }: { control: RequesterContextControl; session: SessionInfo | null }) {
  const { state, refreshing } = control;
  const [picking, setPicking] = useState(false);
  const { api, ticket } = useServices();
  // What the server says the agent can do on the requester: read once here for the actions and the View as customer card.
  const loaded = state.kind === "loaded" ? state.context : null;
  const userTarget = loaded?.user ? { type: "user" as const, id: loaded.user.id, version: loaded.user.version } : null;
  const accountTarget = loaded?.account.status === "ok" ? { type: "account" as const, id: loaded.account.data.id, version: loaded.account.data.version } : null;
  const availability = useAvailability(api, session ? userTarget : null, session ? accountTarget : null, ticket.ticketId, customerLocaleOf(ticket.requester.locale));
  useEffect(() => {
    if (state.kind === "loaded") markPainted();
  }, [state]);

  const pick = (userId: string) => {
    setPicking(false);
    control.pickUser(userId);
  };

  switch (state.kind) {
    case "loading":
      return (
        <p class="muted" aria-busy="true" data-testid="loading">
          {t("common.loading")}
        </p>
      );
    case "failed":
      return (
        <>
          <ProblemNotice problem={state.problem} />
          <button type="button" class="c-btn c-btn--sm" onClick={control.refresh}>
            {t("common.retry")}
          </button>
        </>
      );
    case "unmatched":
      return <RequesterPicker reason="unmatched" candidates={state.candidates} onPick={pick} />;
    case "no_email":
      return <RequesterPicker reason="no_email" candidates={[]} onPick={pick} />;
    case "loaded": {
      const { context } = state;
      if (picking || (context.match === "ambiguous" && !context.user)) {
        return <RequesterPicker reason={picking ? "change" : "ambiguous"} candidates={context.candidates} onPick={pick} onCancel={picking ? () => setPicking(false) : undefined} currentId={context.user?.id} />;
      }
      return (
        <div aria-busy={refreshing} data-testid="customer" data-refreshing={refreshing}>
          {context.match === "ambiguous" && (
            <RequesterPicker reason="ambiguous" candidates={context.candidates} onPick={pick} />
          )}
          {!refreshing && <StaleMarker loadedAt={state.loadedAt} onRefresh={control.refresh} />}
          {context.pick && (
            <Notice tone="info" testId="picked-by">
              {t("picker.picked_by", { name: context.pick.pickedBy, when: dateTime(context.pick.pickedAt) })}
            </Notice>
          )}
          <PartialNotice context={context} />
          <UnresolvedNotice context={context} />
          {context.match === "exact" && context.candidates.length > 0 && (
            <Notice tone="warning" testId="same-email">
              {plural("picker.same_email", context.candidates.length, { accounts: context.candidates.map((hit) => hit.subtitle.split(" · ").slice(1).join(" · ") || hit.accountId).join(", ") })}{" "}
              <button type="button" class="c-btn c-btn--basic c-btn--sm" onClick={() => setPicking(true)}>
                {t("picker.change")}
              </button>
            </Notice>
          )}
          <ActionsPanel context={context} session={session} answer={availability} onChanged={control.refresh} />
          <UserCard context={context} onChangeUser={() => setPicking(true)} />
          {session && <SettingsCard context={context} session={session} onChanged={control.refresh} />}
          <AccountCard context={context} />
          <BillingCard context={context} />
          {session && <ApprovalsCard />}
          {session && <ImpersonationCard context={context} session={session} availability={availability?.actions.get("impersonation.start")} onChanged={control.refresh} />}
          <ActivityList context={context} />
          {state.chosen && (
            <button type="button" class="c-btn c-btn--basic c-btn--sm" onClick={() => control.pickUser(null)}>
              {t("picker.forget")}
            </button>
          )}
        </div>
      );
    }
  }
}
