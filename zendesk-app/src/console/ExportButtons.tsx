import { useRef, useState } from "preact/hooks";
import { readProblem } from "../api/steward";
import type { ConsoleContext, ExplorerQuery } from "./context";
import { ct } from "./i18n";

/**
 * Counts the entries in an export's bytes as they arrive: NDJSON lines, or CSV records, where a line break
 * inside a quoted field (a reason written on two lines) ends no record. The CSV header is not an entry.
 */
export function exportRecordCounter(format: "csv" | "ndjson"): { add(chunk: Uint8Array): number } {
  let breaks = 0;
  let quoted = false;
  return {
    add(chunk) {
      for (const byte of chunk) {
        // (NDJSON's quotes are JSON's and escaped inside strings; JSON text holds no raw line break.)
        if (byte === 34 && format === "csv") quoted = !quoted;
        else if (byte === 10 && !quoted) breaks++;
      }
      return format === "csv" ? Math.max(0, breaks - 1) : breaks;
    },
  };
}

/**
 * Exports the current filter: the server streams it; the page reads the stream to show progress
 * (entries so far of X-Export-Total) and hands the file to the browser at the end.
 */
export function ExportButtons({ ctx, query }: { ctx: ConsoleContext; query: ExplorerQuery }) {
  const [progress, setProgress] = useState<{ done: number; total: number; finished: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  // One export at a time: a second click while one streams would download and audit it twice.
  const running = useRef(false);
  const [busy, setBusy] = useState(false);
  const run = async (format: "csv" | "ndjson") => {
    if (running.current) return;
    running.current = true;
    setBusy(true);
    setError(null);
    const params = new URLSearchParams({ format });
    for (const [k, v] of Object.entries(query)) if (k !== "order" && v) params.set(k, v);
    try {
      const res = await fetch(`/api/console/export?${params}`, { headers: { Authorization: `Bearer ${ctx.session.token}` } });
      if (!res.ok || !res.body) {
        // A refusal is problem+json: show its detail and which filter was refused, why.
        const problem = await readProblem(res);
        const fields = (problem.errors ?? []).map((e) => `${e.field}: ${e.reason}`).join("; ");
        throw new Error(fields ? `${problem.detail ?? problem.title} (${fields})` : (problem.detail ?? problem.title));
      }
      const total = Number(res.headers.get("X-Export-Total") ?? 0);
      const reader = res.body.getReader();
      const parts: Uint8Array[] = [];
      const counter = exportRecordCounter(format);
      let received = 0;
      setProgress({ done: 0, total, finished: false });
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        received = counter.add(value);
        setProgress({ done: Math.min(total, received), total, finished: false });
      }
      // What the file holds: the total was counted before the stream, and entries can settle or be flagged in between.
      setProgress({ done: received, total, finished: true });
      const url = URL.createObjectURL(new Blob(parts as BlobPart[], { type: res.headers.get("Content-Type") ?? "text/plain" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") ?? "")?.[1] ?? `steward-audit.${format}`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError((err as Error).message);
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
      {error && <span role="alert">{ct("error", { detail: error })}</span>}
    </div>
  );
}
