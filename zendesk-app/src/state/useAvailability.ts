import { useEffect, useState } from "preact/hooks";
import type { ActionAvailability, AvailableActions } from "../../../shared/schemas/availability";
import type { StewardApi } from "../api/steward";

export type Availability = ReadonlyMap<string, ActionAvailability>;

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
export function useAvailability(api: StewardApi, user: Target | null, account: Target | null): Availability | null {
  const [answer, setAnswer] = useState<{ key: string; map: Availability } | null>(null);
  const key = `${user ? `${user.id}@${user.version}` : ""}|${account ? `${account.id}@${account.version}` : ""}`;
  useEffect(() => {
    if (!user && !account) return;
    let cancelled = false;
    const read = (target: Target | null) =>
      target ? api.get<AvailableActions>("/api/actions/available", { targetType: target.type, targetId: target.id }).then((r) => r.actions) : Promise.resolve([]);
    Promise.all([read(user), read(account)]).then(
      ([forUser, forAccount]) => !cancelled && setAnswer({ key, map: new Map([...forUser, ...forAccount].map((a) => [a.action, a])) }),
      () => !cancelled && setAnswer(null),
    );
    return () => {
      cancelled = true;
    };
    // Keyed by id and version: a changed target is read again, a re-render is not.
  }, [api, key]);
  return answer?.key === key ? answer.map : null;
}
