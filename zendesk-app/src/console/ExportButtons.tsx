import { useState } from "preact/hooks";
import { readProblem } from "../api/steward";
import type { ConsoleContext, ExplorerQuery } from "./context";
import { ct } from "./i18n";

/**
 * Exports the current filter: the server streams it; the page reads the stream to show progress
 * (entries so far of X-Export-Total) and hands the file to the browser at the end.
 */
export function ExportButtons({ ctx, query }: { ctx: ConsoleContext; query: ExplorerQuery }) {
  const [progress, setProgress] = useState<{ done: number; total: number; finished: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (format: "csv" | "ndjson") => {
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
      let lines = 0;
      setProgress({ done: 0, total, finished: false });
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        for (const byte of value) if (byte === 10) lines++;
        // CSV has a header line; quoted line breaks inside fields make its count approximate.
        setProgress({ done: Math.min(total, format === "csv" ? Math.max(0, lines - 1) : lines), total, finished: false });
      }
      setProgress({ done: total, total, finished: true });
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
    }
  };
  return (
    <div class="export" data-testid="export">
      <button class="c-btn c-btn--sm" onClick={() => void run("csv")}>
        {ct("export.csv")}
      </button>
      <button class="c-btn c-btn--sm" onClick={() => void run("ndjson")}>
        {ct("export.ndjson")}
      </button>
      {progress && (
        <span data-testid="export-progress" data-done={progress.done} data-total={progress.total} data-finished={String(progress.finished)}>
          <progress max={Math.max(1, progress.total)} value={progress.done} /> {progress.finished ? ct("export.done", { done: progress.done }) : ct("export.progress", { done: progress.done, total: progress.total })}
        </span>
      )}
      {error && <span role="alert">{ct("error", { detail: error })}</span>}
    </div>
  );
}
