import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { ProblemDetails } from "../../../shared/problem";
import type { RequesterContext, SearchHit } from "../../../shared/schemas/context";
import { StewardApiError, type StewardApi } from "../api/steward";
import type { TicketInfo } from "../zaf/client";

export type ContextState =
  | { kind: "loading" }
  /** loadedAt: when this answer arrived (the stale marker counts from it). */
  | { kind: "loaded"; context: RequesterContext; chosen: boolean; loadedAt: number }
  /** No user matches the requester (404 with the closest candidates). */
  | { kind: "unmatched"; candidates: SearchHit[] }
  /** The ticket has no requester email: the agent must search. */
  | { kind: "no_email" }
  | { kind: "failed"; problem: ProblemDetails };

export interface RequesterContextControl {
  state: ContextState;
  refreshing: boolean;
  refresh(): void;
  /** Pick a user for this ticket (null forgets the choice and goes back to the requester match). */
  pickUser(userId: string | null): void;
}

function candidatesOf(problem: ProblemDetails): SearchHit[] {
  const list = (problem as { candidates?: unknown }).candidates;
  return Array.isArray(list) ? (list as SearchHit[]) : [];
}

/** The requester's context from GET /api/context, re-fetched when the requester or the choice changes. */
export function useRequesterContext(api: StewardApi, ticket: TicketInfo): RequesterContextControl {
  const { ticketId, requester } = ticket;
  // A pick not stored on the server yet (or that could not be): it lasts this load only. Stored picks
  // come back with the context (`pick`), for every agent on the ticket, after a reload or ticket switch.
  const [chosen, setChosen] = useState<string | null>(null);
  const [state, setState] = useState<ContextState>({ kind: "loading" });
  const [refreshing, setRefreshing] = useState(false);
  const generation = useRef(0);

  const [stored, setStored] = useState(0);
  useEffect(() => setChosen(null), [ticketId, requester.email]);

  const load = useCallback(
    async (soft: boolean) => {
      const mine = ++generation.current;
      if (soft) setRefreshing(true);
      else setState({ kind: "loading" });
      const settle = (next: ContextState) => {
        if (mine !== generation.current) return; // a newer load (other requester) won
        setState(next);
        setRefreshing(false);
      };
      if (!requester.email && !chosen) return settle({ kind: "no_email" });
      try {
        const context = await api.get<RequesterContext>("/api/context", {
          email: requester.email,
          zendeskUserId: requester.zendeskUserId,
          externalId: requester.externalId,
          userId: chosen,
        });
        settle({ kind: "loaded", context, chosen: chosen !== null || (context.pick ?? null) !== null, loadedAt: Date.now() });
      } catch (err) {
        if (err instanceof StewardApiError && err.status === 404) settle({ kind: "unmatched", candidates: candidatesOf(err.problem) });
        else if (err instanceof StewardApiError) settle({ kind: "failed", problem: err.problem });
        else settle({ kind: "failed", problem: { type: "about:blank", title: "Error", status: 0, detail: (err as Error).message } });
      }
    },
    [api, requester.email, requester.zendeskUserId, requester.externalId, chosen, stored],
  );

  useEffect(() => void load(false), [load]);

  return {
    state,
    refreshing,
    refresh: () => void load(true),
    pickUser: (userId) => {
      if (!requester.email) return setChosen(userId);
      // Stored for the ticket, then read back with who picked; if it cannot be stored, it holds for this load.
      api.post("/api/context/pick", { ticketId, email: requester.email, userId }).then(
        () => {
          setChosen(null);
          setStored((n) => n + 1);
        },
        () => setChosen(userId),
      );
    },
  };
}
