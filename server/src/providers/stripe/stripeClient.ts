import Stripe from "stripe";

/** The API version Steward's Stripe code is written against: the one the installed SDK declares. */
export const STRIPE_API_VERSION = "2026-10-28.endive" as const satisfies typeof Stripe.API_VERSION;

export interface StripeSettings {
  secretKey: string;
  /** Sends every call here instead of https://api.stripe.com: tests, proxies. */
  baseUrl?: string;
  timeoutMs: number;
}

/** The SDK's own retries are off: ProviderCaller is the only retry layer. */
export function createStripeClient(settings: StripeSettings): Stripe {
  const target = settings.baseUrl ? new URL(settings.baseUrl) : undefined;
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
  });
}
