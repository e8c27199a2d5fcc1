import { useEffect, useState } from "preact/hooks";
import type { ApprovalRequest } from "../../../shared/schemas/approval";
import type { StewardApi } from "../api/steward";

/** While a request waits, how often the sidebar asks whether someone decided it. */
const PENDING_POLL_MS = 5_000;

const listeners = new Set<() => void>();

/** Tells the ticket's approval list to reload (after the agent asked for one). */
export function approvalsChanged(): void {
  for (const listener of listeners) listener();
}

/** The approval requests on this ticket the agent may see; re-read while any is pending. */
export function useTicketApprovals(api: StewardApi, ticketId: string): ApprovalRequest[] | null {
  const [approvals, setApprovals] = useState<ApprovalRequest[] | null>(null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    const bump = () => setRound((n) => n + 1);
    listeners.add(bump);
    return () => void listeners.delete(bump);
  }, []);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    api.get<{ approvals: ApprovalRequest[] }>("/api/approvals", { ticketId }).then(
      (body) => {
        if (!live) return;
        setApprovals(body.approvals);
        if (body.approvals.some((a) => a.status === "pending")) timer = setTimeout(() => setRound((n) => n + 1), PENDING_POLL_MS);
      },
      // A failed read leaves the last list shown; the card is secondary to the actions.
      () => undefined,
    );
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [api, ticketId, round]);
  return approvals;
}
