import { createHash } from "node:crypto";
import Stripe from "stripe";

/** The API version Steward's Stripe code is written against: the one the installed SDK declares. */
export const STRIPE_API_VERSION = "2026-10-28.endive" as const satisfies typeof Stripe.API_VERSION;

/** Stripe refuses idempotency keys longer than this ("Idempotent Keys must be 1-255 characters long"). */
export const STRIPE_MAX_IDEMPOTENCY_KEY = 255;

export interface StripeSettings {
  secretKey: string;
  /** Sends every call here instead of https://api.stripe.com: tests, proxies. A path is kept (`https://proxy/stripe` → `/stripe/v1/…`). */
  baseUrl?: string;
  timeoutMs: number;
}

/**
 * The key Stripe sees for one of Steward's keys: unchanged when it fits, else a readable prefix and
 * the SHA-256 of the whole key, so distinct long keys stay distinct and the same key maps the same way.
 */
export function stripeIdempotencyKey(key: string): string {
  if (key.length <= STRIPE_MAX_IDEMPOTENCY_KEY && /^[\x21-\x7e]+$/.test(key)) return key;
  const digest = createHash("sha256").update(key, "utf8").digest("hex");
  const prefix = key.replace(/[^\x21-\x7e]/g, "").slice(0, STRIPE_MAX_IDEMPOTENCY_KEY - digest.length - "~sha256:".length);
  return `${prefix}~sha256:${digest}`;
}

/**
 * Starts a Stripe SDK call without the call-site stack the SDK captures for every request (`new
 * Error().stack`, kept to append to an error's stack). With source maps on (production runs with
 * --enable-source-maps) formatting that stack was ~5% of the app's CPU on a provider-backed lookup;
 * ProviderError keeps its own stack and the operation name, which is what the logs use. The SDK
 * captures it before its first await, so the limit is restored before anything else runs.
 */
export function withoutCallSiteStack<T>(start: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The SDK cannot be given a base path; this client puts the base URL's path in front of every request path. */
class BasePathClient extends Stripe.HttpClient {
  constructor(
    private readonly inner: Stripe.HttpClient,
    private readonly basePath: string,
  ) {
    super();
  }

  override getClientName(): string {
    return this.inner.getClientName();
  }

  override makeRequest(...[host, port, path, ...rest]: Parameters<Stripe.HttpClient["makeRequest"]>): ReturnType<Stripe.HttpClient["makeRequest"]> {
    return this.inner.makeRequest(host, port, `${this.basePath}${path}`, ...rest);
  }
}

/** The SDK's own retries are off: ProviderCaller is the only retry layer. */
export function createStripeClient(settings: StripeSettings): Stripe {
  const target = settings.baseUrl ? new URL(settings.baseUrl) : undefined;
  const basePath = target ? target.pathname.replace(/\/+$/, "") : "";
  return new Stripe(settings.secretKey, {
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: 0,
    timeout: settings.timeoutMs,
    telemetry: false,
    ...(target
      ? {
          host: target.hostname,
          port: target.port || (target.protocol === "https:" ? 443 : 80),
          protocol: target.protocol === "https:" ? "https" : "http",
        }
      : {}),
    ...(basePath ? { httpClient: new BasePathClient(Stripe.createNodeHttpClient(), basePath) } : {}),
  });
}
