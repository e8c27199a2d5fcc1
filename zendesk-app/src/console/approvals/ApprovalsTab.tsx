import { Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { ProblemDetails } from "../../../../shared/problem";
import type { ApprovalRequest } from "../../../../shared/schemas/approval";
import { StewardApiError } from "../../api/steward";
import type { ConsoleContext } from "../context";
import { actionLabel, consoleLocale, ct, type ConsoleKey } from "../i18n";
import { formatInZone } from "../time";

type Lists = { pending: ApprovalRequest[]; mine: ApprovalRequest[] };

/**
 * Whether an answer settles the click's intent. Not a network error, 202, 429, 5xx or "in progress": the
 * retry must carry the same key. (Kept here rather than shared with the sidebar: it would grow the chunk both load.)
 */
function settles(err: unknown): boolean {
  const status = err instanceof StewardApiError ? err.status : 0;
  return !(status === 0 || status === 202 || status === 429 || status >= 500 || (err instanceof StewardApiError && err.problem.code === "approval_in_progress"));
}

function asProblem(err: unknown): ProblemDetails {
  if (err instanceof StewardApiError) return err.problem;
  return { type: "about:blank", title: (err as Error).message, status: 0 };
}

/** Plain values shown as they are (amounts in cents as units); anything nested as compact JSON (lists). */
function show(name: string, value: unknown): string {
  if (name.endsWith("Cents") && typeof value === "number") return new Intl.NumberFormat(consoleLocale(), { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(value / 100);
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean" ? String(value) : JSON.stringify(value);
}

/**
 * Two-person approval in the console: requests this agent may decide (approve runs the action with
 * their role and caps; reject needs a reason), and the agent's own requests with their status.
 */
export function ApprovalsTab({ ctx }: { ctx: ConsoleContext }) {
  const [lists, setLists] = useState<Lists | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    setError(null);
    Promise.all([ctx.api.get<{ approvals: ApprovalRequest[] }>("/api/approvals", { status: "pending", for: "me" }), ctx.api.get<{ approvals: ApprovalRequest[] }>("/api/approvals")]).then(
      ([pending, all]) => setLists({ pending: pending.approvals, mine: all.approvals.filter((a) => a.requestedBy.staffId === ctx.me.staffId) }),
      (err: Error) => setError(err.message),
    );
  }, [attempt]);
  const reload = () => setAttempt((n) => n + 1);
  if (error)
    return (
      <p role="alert">
        {ct("error", { detail: error })} <button class="c-btn c-btn--sm" onClick={reload}>{ct("retry")}</button>
      </p>
    );
  if (!lists) return <p class="muted">{ct("loading")}</p>;
  return (
    <div class="approvals">
      <section data-testid="approvals-pending">
        <h2>{ct("approvals.pending")}</h2>
        {lists.pending.length === 0 ? <p class="muted">{ct("approvals.none_pending")}</p> : lists.pending.map((a) => <PendingRequest key={a.id} ctx={ctx} approval={a} onDecided={reload} />)}
      </section>
      <section data-testid="approvals-mine">
        <h2>{ct("approvals.mine")}</h2>
        {lists.mine.length === 0 ? (
          <p class="muted">{ct("approvals.none_mine")}</p>
        ) : (
          <ul class="approval-list">
            {lists.mine.map((a) => (
              <li key={a.id} data-approval={a.id} data-status={a.status}>
                <strong>{actionLabel(a.action)}</strong> · #{a.ticketId} · {ct(`approvals.status.${a.status}` as ConsoleKey)}
                {a.decidedBy && ` · ${a.decidedBy.email}`}
                {a.decisionReason && ` · ${a.decisionReason}`}
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

function PendingRequest({ ctx, approval, onDecided }: { ctx: ConsoleContext; approval: ApprovalRequest; onDecided: () => void }) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ProblemDetails | null>(null);
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState("");
  // One key per intent to approve: a retry after a network error or an unknown outcome re-sends the same key.
  const approveKey = useRef<string | null>(null);
  const input = approval.input && typeof approval.input === "object" ? Object.entries(approval.input as Record<string, unknown>) : [];

  async function decide(kind: "approve" | "reject") {
    setBusy(true);
    setProblem(null);
    try {
      if (kind === "approve") {
        approveKey.current ??= crypto.randomUUID();
        await ctx.api.post(`/api/approvals/${approval.id}/approve`, {}, { "Idempotency-Key": approveKey.current });
      } else {
        await ctx.api.post(`/api/approvals/${approval.id}/reject`, { reason });
      }
      approveKey.current = null;
      onDecided();
    } catch (err) {
      if (settles(err)) approveKey.current = null;
      setProblem(asProblem(err));
      // Decided elsewhere (or by this approval's own failure): the list is stale, reload it.
      if (err instanceof StewardApiError && err.status === 409 && err.problem.code !== "approval_in_progress") onDecided();
    } finally {
      setBusy(false);
    }
  }

  return (
    <article class="approval" data-approval={approval.id} data-action={approval.action} aria-busy={busy}>
      <h3>{actionLabel(approval.action)}</h3>
      <dl class="facts">
        <dt>{ct("approvals.target")}</dt>
        <dd>
          {approval.targetType} {approval.targetId}
        </dd>
        <dt>{ct("approvals.ticket")}</dt>
        <dd>
          #{approval.ticketId}{" "}
          <button class="c-btn c-btn--sm" data-testid="open-ticket" onClick={() => void ctx.host.openTicket(approval.ticketId)}>
            {ct("entry.open_ticket")}
          </button>
        </dd>
        <dt>{ct("approvals.requester")}</dt>
        <dd>
          {[approval.requestedBy.name, approval.requestedBy.email].filter(Boolean).join(" · ")} ({approval.requestedBy.panelRole})
        </dd>
        <dt>{ct("approvals.reason")}</dt>
        <dd data-testid="approval-reason">{approval.reason}</dd>
        {input.map(([name, value]) => (
          <Fragment key={name}>
            <dt>{name}</dt>
            <dd data-input={name}>{show(name, value)}</dd>
          </Fragment>
        ))}
        <dt>{ct("approvals.expires")}</dt>
        <dd>
          <time dateTime={approval.expiresAt}>{formatInZone(approval.expiresAt, consoleLocale(), ctx.agent.timeZone)}</time>
        </dd>
      </dl>
      {approval.preview !== null && approval.preview !== undefined && (
        <details data-testid="approval-preview">
          <summary>{ct("approvals.preview")}</summary>
          <pre>{JSON.stringify(approval.preview, null, 2)}</pre>
        </details>
      )}
      {problem && (
        <p role="alert" data-testid="approval-problem" data-code={problem.code}>
          {problem.title}
          {problem.detail && `: ${problem.detail}`}
        </p>
      )}
      {rejecting ? (
        <form
          class="buttons"
          onSubmit={(e) => {
            e.preventDefault();
            void decide("reject");
          }}
        >
          <label>
            {ct("approvals.reject_reason")}{" "}
            <textarea name="reason" required minLength={3} maxLength={500} rows={2} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
          <button type="submit" class="c-btn c-btn--sm c-btn--danger" data-testid="confirm-reject" disabled={busy}>
            {ct("approvals.reject")}
          </button>
          <button type="button" class="c-btn c-btn--sm" onClick={() => setRejecting(false)}>
            {ct("approvals.cancel")}
          </button>
        </form>
      ) : (
        <div class="buttons">
          <button class="c-btn c-btn--sm c-btn--primary" data-testid="approve" disabled={busy} onClick={() => void decide("approve")}>
            {ct("approvals.approve")}
          </button>
          <button class="c-btn c-btn--sm" data-testid="reject" disabled={busy} onClick={() => setRejecting(true)}>
            {ct("approvals.reject")}
          </button>
        </div>
      )}
    </article>
  );
}
