import { useEffect, useState } from "preact/hooks";
import type { ActionAvailability, AvailableActions, TemporaryGrant } from "../../../shared/schemas/availability";
import type { StewardApi } from "../api/steward";

export type Availability = ReadonlyMap<string, ActionAvailability>;

/** The server's answer: every action's state, and the temporary grants open on the user and the account. */
export interface AvailabilityAnswer {
  actions: Availability;
  grants: readonly TemporaryGrant[];
}

/** The requester's locale as the server takes it (customer notices in their language), or null when Zendesk gives none it would accept. */
export function customerLocaleOf(locale: string | null): string | null {
  return locale && locale.length <= 35 && /^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$/.test(locale) ? locale : null;
}

interface Target {
  type: "user" | "account";
  id: string;
  version: number;
}

/**
 * What the server says the agent can do now on the loaded user and account (GET /api/actions/available):
 * read again whenever either target's version changes. Null while loading, when it could not be read,
 * and while an answer for an older version is all there is (it would disable what a change just made
 * possible); then the panel offers the catalog by role and the server still refuses what it must.
 */
export function useAvailability(api: StewardApi, user: Target | null, account: Target | null, ticketId: string, customerLocale: string | null = null): AvailabilityAnswer | null {
  const [answer, setAnswer] = useState<{ key: string; value: AvailabilityAnswer } | null>(null);
  // The ticket is named in the customer notices' text, which is in the requester's language where translated.
  const key = `${user ? `${user.id}@${user.version}` : ""}|${account ? `${account.id}@${account.version}` : ""}|${ticketId}|${customerLocale ?? ""}`;
  useEffect(() => {
    if (!user && !account) return;
    let cancelled = false;
    const read = (target: Target | null) =>
      target ? api.get<AvailableActions>("/api/actions/available", { targetType: target.type, targetId: target.id, ticketId, ...(customerLocale ? { customerLocale } : {}) }) : Promise.resolve({ actions: [], grants: [] });
    Promise.all([read(user), read(account)]).then(
      ([forUser, forAccount]) =>
        !cancelled && setAnswer({ key, value: { actions: new Map([...forUser.actions, ...forAccount.actions].map((a) => [a.action, a])), grants: [...forUser.grants, ...forAccount.grants] } }),
      () => !cancelled && setAnswer(null),
    );
    return () => {
      cancelled = true;
    };
    // Keyed by id and version: a changed target is read again, a re-render is not.
  }, [api, key]);
  return answer?.key === key ? answer.value : null;
}
