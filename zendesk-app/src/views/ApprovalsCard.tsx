import { t, tOr } from "../i18n";
import { useServices } from "../state/services";
import { useTicketApprovals } from "../state/useTicketApprovals";
import { Badge } from "./parts";

/** Approval requests on this ticket and where each stands; shown only when there are any. */
export function ApprovalsCard() {
  const { api, ticket } = useServices();
  const approvals = useTicketApprovals(api, ticket.ticketId);
  if (!approvals || approvals.length === 0) return null;
  return (
    <section class="card" aria-labelledby="approvals-title" data-testid="ticket-approvals">
      <h2 id="approvals-title">{t("approvals.title")}</h2>
      <ul class="approval-list">
        {approvals.map((a) => (
          <li key={a.id} data-approval={a.id} data-status={a.status}>
            <strong>{tOr(`action.${a.action}`, a.action)}</strong>{" "}
            <Badge tone={a.status === "approved" ? "green" : a.status === "pending" ? "yellow" : "red"} name={`approval-${a.status}`}>
              {tOr(`approvals.status.${a.status}`, a.status)}
            </Badge>
            <div class="muted">
              {a.requestedBy.email}
              {a.decidedBy && ` → ${a.decidedBy.email}`}
              {a.decisionReason && ` · ${a.decisionReason}`}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
