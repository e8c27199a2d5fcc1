/**
 * How patient the sidebar is with Steward, as the server's configuration says in the page head
 * (SIDEBAR_REQUEST_TIMEOUT_MS, SIDEBAR_STALE_AFTER_MS); pages without them use the defaults.
 */
function fromMeta(name: string, fallback: number): number {
  const value = Number(globalThis.document?.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

export const requestTimeoutMs = (): number => fromMeta("steward-request-timeout-ms", 15_000);
export const staleAfterMs = (): number => fromMeta("steward-stale-after-ms", 60_000);
