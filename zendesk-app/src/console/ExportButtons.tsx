import { useEffect, useRef, useState } from "preact/hooks";
import type { ExportLinkIssued, ExportLinkStatusView } from "../../../shared/schemas/console";
import { StewardApiError } from "../api/steward";
import type { ConsoleContext, ExplorerQuery } from "./context";
import { ct } from "./i18n";

/** How often the console asks how far the browser's download got. */
const STATUS_POLL_MS = 500;

/**
 * Hands a link to the browser's download manager, which streams the file to disk: the page never holds it.
 * `download` keeps a refused link (used, expired) from replacing the console with its problem text.
 */
function downloadInBrowser(url: string): void {
  const a = document.createElement("a");
  a.href = url;
  a.download = "";
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
}

const problemText = (err: unknown) => {
  if (!(err instanceof StewardApiError)) return (err as Error).message;
  // A refusal is problem+json: show its detail and which filter was refused, why.
  const fields = (err.problem.errors ?? []).map((e) => `${e.field}: ${e.reason}`).join("; ");
  const detail = err.problem.detail ?? err.problem.title;
  return fields ? `${detail} (${fields})` : detail;
};

/**
 * Exports the current filter: the server makes a single-use link (the session stays in the page), the
 * browser downloads it, and the page follows the download's progress (entries sent of the total) on the
 * server's record of that link.
 */
export function ExportButtons({ ctx, query }: { ctx: ConsoleContext; query: ExplorerQuery }) {
  const [progress, setProgress] = useState<{ done: number; total: number; finished: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  // The server found the stream stopped with no end (its process died): how far it got, and the format to start again.
  const [stopped, setStopped] = useState<{ done: number; format: "csv" | "ndjson" } | null>(null);
  // One export at a time: a second click while one runs would download and audit it twice.
  const running = useRef(false);
  const mounted = useRef(true);
  useEffect(() => () => void (mounted.current = false), []);
  const [busy, setBusy] = useState(false);
  const run = async (format: "csv" | "ndjson") => {
    if (running.current) return;
    running.current = true;
    setBusy(true);
    setError(null);
    setStopped(null);
    setProgress(null);
    const body: Record<string, string> = { format };
    for (const [k, v] of Object.entries(query)) if (k !== "order" && v) body[k] = v;
    let started = false;
    try {
      const link = await ctx.api.post<ExportLinkIssued>("/api/console/export-links", body);
      downloadInBrowser(link.url);
      started = true;
      setProgress({ done: 0, total: 0, finished: false });
      while (mounted.current) {
        await new Promise((next) => setTimeout(next, STATUS_POLL_MS));
        const status = await ctx.api.get<ExportLinkStatusView>(`/api/console/export-links/${link.id}`);
        const total = status.total ?? 0;
        if (status.state === "expired") throw new Error(ct("export.not_started"));
        if (status.state === "interrupted") {
          setStopped({ done: status.rowsSent, format });
          setProgress(null);
          break;
        }
        if (status.state === "incomplete") throw new Error(ct("export.incomplete", { detail: status.error ?? "", done: status.rowsSent }));
        // What the file holds, once complete: the total was counted before the stream, and entries can settle or be flagged in between.
        if (status.state === "complete") {
          setProgress({ done: status.rowsSent, total, finished: true });
          break;
        }
        if (status.state === "streaming") setProgress({ done: Math.min(total, status.rowsSent), total, finished: false });
      }
    } catch (err) {
      // Once the browser has the link, a failed status read says nothing about the download itself.
      setError(started && err instanceof StewardApiError ? ct("export.status_unknown", { detail: problemText(err) }) : problemText(err));
      setProgress(null);
    } finally {
      running.current = false;
      setBusy(false);
    }
  };
  return (
    <div class="export" data-testid="export">
      <button class="c-btn c-btn--sm" disabled={busy} onClick={() => void run("csv")}>
        {ct("export.csv")}
      </button>
      <button class="c-btn c-btn--sm" disabled={busy} onClick={() => void run("ndjson")}>
        {ct("export.ndjson")}
      </button>
      {progress && (
        <span data-testid="export-progress" data-done={progress.done} data-total={progress.total} data-finished={String(progress.finished)}>
          <progress max={Math.max(1, progress.total)} value={progress.done} /> {progress.finished ? ct(progress.done === 1 ? "export.done_one" : "export.done", { done: progress.done }) : ct("export.progress", { done: progress.done, total: progress.total })}
        </span>
      )}
      {progress && (
        <span class="muted" data-testid="export-note">
          {ct("export.in_downloads")}
        </span>
      )}
      {error && <span role="alert">{ct("error", { detail: error })}</span>}
      {stopped && (
        <span role="alert" data-testid="export-interrupted" data-done={stopped.done}>
          {ct(stopped.done === 1 ? "export.interrupted_one" : "export.interrupted", { done: stopped.done })}{" "}
          <button class="c-btn c-btn--sm" disabled={busy} onClick={() => void run(stopped.format)}>
            {ct("export.again")}
          </button>
        </span>
      )}
    </div>
  );
}
