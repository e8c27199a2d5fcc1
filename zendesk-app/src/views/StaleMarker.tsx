import { useEffect, useState } from "preact/hooks";
import { staleAfterMs } from "../api/pageTimings";
import { currentLocale, t } from "../i18n";

/** "2 minutes ago", in the agent's language. */
function ago(ms: number): string {
  const format = new Intl.RelativeTimeFormat(currentLocale(), { numeric: "auto" });
  const seconds = Math.round(ms / 1000);
  return seconds < 90 ? format.format(-seconds, "second") : format.format(-Math.round(seconds / 60), "minute");
}

/**
 * Once what is shown was loaded longer ago than the configured limit (60 s), says so, with Refresh:
 * an agent coming back to a ticket does not act on a state that may have changed meanwhile.
 */
export function StaleMarker({ loadedAt, onRefresh }: { loadedAt: number; onRefresh: () => void }) {
  const [now, setNow] = useState(Date.now());
  const limit = staleAfterMs();
  useEffect(() => {
    const wait = loadedAt + limit - Date.now();
    let tick: ReturnType<typeof setInterval> | undefined;
    // Asleep until it turns stale, then once in a while so "… ago" stays true.
    const first = setTimeout(() => {
      setNow(Date.now());
      tick = setInterval(() => setNow(Date.now()), 15_000);
    }, Math.max(0, wait));
    return () => {
      clearTimeout(first);
      clearInterval(tick);
    };
  }, [loadedAt, limit]);
  if (now - loadedAt < limit) return null;
  return (
    <div class="notice notice--warning stale" role="status" data-testid="stale">
      {t("stale.notice", { ago: ago(now - loadedAt) })}{" "}
      <button type="button" class="c-btn c-btn--sm c-btn--basic" data-testid="stale-refresh" onClick={onRefresh}>
        {t("common.refresh")}
      </button>
    </div>
  );
}
