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
 * read again whenever either target's version changes. Null while loading or when it could not be
 * read; then the panel offers the catalog as before and the server still refuses what it must.
 */
export function useAvailability(api: StewardApi, user: Target | null, account: Target | null): Availability | null {
  const [availability, setAvailability] = useState<Availability | null>(null);
  const userKey = user ? `${user.id}@${user.version}` : "";
  const accountKey = account ? `${account.id}@${account.version}` : "";
  useEffect(() => {
    let cancelled = false;
    const read = (target: Target | null) =>
      target ? api.get<AvailableActions>("/api/actions/available", { targetType: target.type, targetId: target.id }).then((r) => r.actions) : Promise.resolve([]);
    Promise.all([read(user), read(account)]).then(
      ([forUser, forAccount]) => !cancelled && setAvailability(new Map([...forUser, ...forAccount].map((a) => [a.action, a]))),
      () => !cancelled && setAvailability(null),
    );
    return () => {
      cancelled = true;
    };
    // Keyed by id and version: a changed target is read again, a re-render is not.
  }, [api, userKey, accountKey]);
  return availability;
}
