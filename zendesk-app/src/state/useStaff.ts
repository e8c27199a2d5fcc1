import { useEffect, useState } from "preact/hooks";
import type { SessionInfo } from "../../../shared/schemas/session";
import type { StewardApi } from "../api/steward";

/** The signed-in agent and their permissions as Steward sees them now (role read fresh by the server). */
export function useStaff(api: StewardApi): SessionInfo | null {
  const [info, setInfo] = useState<SessionInfo | null>(null);
  useEffect(() => {
    let cancelled = false;
    api.get<SessionInfo>("/api/session").then(
      (body) => !cancelled && setInfo(body),
      // Without the role no action is offered; lookups still work and the server enforces anyway.
      () => !cancelled && setInfo(null),
    );
    return () => {
      cancelled = true;
    };
  }, [api]);
  return info;
}
