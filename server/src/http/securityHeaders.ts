import type { RequestHandler } from "express";
import helmet from "helmet";
import type { Config } from "../config.js";

/** Who may frame Steward: the configured Zendesk account (and, in demo mode, the local Zendesk page on loopback). */
export function frameAncestors(config: Pick<Config, "ZENDESK_SUBDOMAIN" | "demo">): string[] {
  const zendesk = config.ZENDESK_SUBDOMAIN ? `https://${config.ZENDESK_SUBDOMAIN}.zendesk.com` : "https://*.zendesk.com";
  return config.demo ? ["'self'", zendesk, "http://localhost:*", "http://127.0.0.1:*"] : [zendesk];
}

/**
 * Headers on every response (helmet): a CSP allowing scripts from Steward itself only and framing
 * only by Zendesk, nosniff, no referrer, HSTS behind https. X-Frame-Options is off: Zendesk must
 * frame the sidebar, and `frame-ancestors` says by whom.
 */
export function securityHeaders(config: Pick<Config, "ZENDESK_SUBDOMAIN" | "demo" | "publicUrl">): RequestHandler {
  const https = config.publicUrl.startsWith("https://");
  // The demo's local Zendesk page (localhost) frames and posts to the app on 127.0.0.1, and the other way round.
  const loopback = config.demo ? ["http://localhost:*", "http://127.0.0.1:*"] : [];
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", "data:"],
        fontSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'", ...loopback],
        frameSrc: config.demo ? ["'self'", ...loopback] : ["'none'"],
        frameAncestors: frameAncestors(config),
        ...(https ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    strictTransportSecurity: https ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    referrerPolicy: { policy: "no-referrer" },
    xFrameOptions: false,
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: false,
  });
}

/** Customer and session data must not stay in browser or proxy caches: everything but the app's hashed assets. */
export const noStore: RequestHandler = (req, res, next) => {
  if (!req.path.startsWith("/app/assets/")) res.setHeader("Cache-Control", "no-store");
  next();
};
