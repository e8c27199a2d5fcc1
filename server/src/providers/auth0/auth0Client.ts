import { ManagementClient } from "auth0";
import { nodeHttpFetch } from "./nodeHttpFetch.js";

export interface Auth0Settings {
  /** Bare tenant host name, e.g. `acme.eu.auth0.com`. */
  domain: string;
  clientId: string;
  clientSecret: string;
  /** Sends every call (including /oauth/token) here instead of `https://<domain>`: tests, proxies. */
  baseUrl?: string;
  timeoutMs: number;
}

/** The SDK always builds `https://<domain>`; a fetch wrapper is the supported way to point it elsewhere. */
export function redirectingFetch(domain: string, baseUrl: string, inner: typeof fetch = fetch): typeof fetch {
  const from = `https://${domain}`;
  const to = baseUrl.replace(/\/$/, "");
  const rewrite = (url: string) => (url.startsWith(from) ? to + url.slice(from.length) : url);
  return (input, init) => {
    if (typeof input === "string") return inner(rewrite(input), init);
    if (input instanceof URL) return inner(rewrite(input.toString()), init);
    return inner(new Request(rewrite(input.url), input), init);
  };
}

/**
 * The Management API client with client-credentials auth (the SDK fetches and caches the token).
 * Its own retries are off: ProviderCaller is the only retry layer. Calls go over node:http(s) with a
 * keep-alive agent rather than global fetch, which costs two to three times the CPU per call.
 */
export function createAuth0Client(settings: Auth0Settings, transport: typeof fetch = nodeHttpFetch()): ManagementClient {
  return new ManagementClient({
    domain: settings.domain,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    maxRetries: 0,
    // A backstop only: ProviderCaller aborts each attempt at timeoutMs.
    timeoutInSeconds: Math.ceil(settings.timeoutMs / 1000) + 1,
    fetch: settings.baseUrl ? redirectingFetch(settings.domain, settings.baseUrl, transport) : transport,
  });
}
