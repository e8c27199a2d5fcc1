import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * The process's own counters (requests, provider calls, sweep runs): one registry per process, as a
 * process is what Prometheus scrapes. State read from the database at scrape time lives in
 * stateGauges.ts and is merged in by the /metrics route.
 */
export const processRegistry = new Registry();
collectDefaultMetrics({ register: processRegistry, prefix: "steward_" });

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const httpRequests = new Counter({
  name: "steward_http_requests_total",
  help: "HTTP requests answered, by route pattern, method and status",
  labelNames: ["route", "method", "status"] as const,
  registers: [processRegistry],
});

export const httpDuration = new Histogram({
  name: "steward_http_request_duration_seconds",
  help: "Time to answer an HTTP request, by route pattern, method and status",
  labelNames: ["route", "method", "status"] as const,
  buckets: LATENCY_BUCKETS,
  registers: [processRegistry],
});

export type ProviderCallOutcome = "succeeded" | "failed" | "unknown";

const providerCalls = new Counter({
  name: "steward_provider_calls_total",
  help: "Calls to Auth0, Stripe or the built-in provider (after retries), by outcome; unknown = timed out, effect not known",
  labelNames: ["provider", "operation", "outcome"] as const,
  registers: [processRegistry],
});

const providerDuration = new Histogram({
  name: "steward_provider_call_duration_seconds",
  help: "Time a provider call took, retries included",
  labelNames: ["provider", "operation", "outcome"] as const,
  buckets: LATENCY_BUCKETS,
  registers: [processRegistry],
});

export function recordProviderCall(provider: string, operation: string, outcome: ProviderCallOutcome, seconds: number): void {
  providerCalls.inc({ provider, operation, outcome });
  providerDuration.observe({ provider, operation, outcome }, seconds);
}

const sweepLastRun = new Gauge({
  name: "steward_sweep_last_run_timestamp_seconds",
  help: "When this process last finished a sweep run over expired temporary grants (Unix time)",
  registers: [processRegistry],
});

export function recordSweepRun(at: Date): void {
  sweepLastRun.set(at.getTime() / 1000);
}
