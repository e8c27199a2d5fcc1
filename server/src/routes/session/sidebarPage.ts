import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import express, { Router, type Request, type Response } from "express";
import { z } from "zod";
import { grantSession, verifyAgent } from "../../auth/openSession.js";
import type { Config } from "../../config.js";
import type { AppDeps } from "../../deps.js";
import { escapeHtml, Problem } from "../../http/problem.js";
import { route } from "../../http/route.js";
import { staffForAgent } from "../../staff/firstVisit.js";

const DEFAULT_DIST = fileURLToPath(new URL("../../../../zendesk-app/dist", import.meta.url));

export function appDistDir(config: Config): string {
  return config.APP_DIST_DIR ? resolve(config.APP_DIST_DIR) : DEFAULT_DIST;
}

/** The sidebar's patience with Steward (config), read by the app from the page head. */
export interface PageTimings {
  requestTimeoutMs: number;
  staleAfterMs: number;
}

/** Puts the session into the page head, where the app reads it; the page URL (and ZAF's query string) stays as Zendesk loaded it. */
export function embedSession(html: string, session: { token: string; expiresAt: string }, timings?: PageTimings): string {
  const meta =
    `<meta name="steward-session" content="${escapeHtml(session.token)}">\n` +
    `<meta name="steward-session-expires" content="${escapeHtml(session.expiresAt)}">\n` +
    (timings ? `<meta name="steward-request-timeout-ms" content="${timings.requestTimeoutMs}">\n<meta name="steward-stale-after-ms" content="${timings.staleAfterMs}">\n` : "");
  const head = /<\/head\s*>/i.exec(html);
  return head ? `${html.slice(0, head.index)}${meta}${html.slice(head.index)}` : `${meta}${html}`;
}

const FormToken = z.object({ token: z.string().max(8192).optional() }).loose();

/**
 * The sidebar page at the manifest's location URL. Zendesk POSTs it with the signed ZAF token (form
 * field `token`); Steward verifies it, opens a session and serves the built app with the session in it.
 */
export function sidebarPageRoutes(deps: AppDeps): Router {
  const router = Router();
  const dist = appDistDir(deps.config);
  const notFromZendesk = `Steward's sidebar opens from Zendesk, which posts a signed token to this address.${deps.config.demo ? ` In demo mode, open ${deps.config.publicUrl}/zendesk.` : ""}`;

  // Refusals reach the problem middleware, which answers a browser with a readable page (http/problem.ts).
  const servePage = async (req: Request, res: Response, token: string | undefined) => {
    // Headers (CSP with frame-ancestors, no-store, no-referrer) come from securityHeaders for every response.
    if (!token) throw Problem.unauthorized("zaf_token_missing", notFromZendesk);
    const agent = await verifyAgent(deps, token, req.log, String(req.id ?? "") || null);
    let html: string;
    try {
      html = await readFile(join(dist, "index.html"), "utf8");
    } catch {
      throw new Problem(503, "app_not_built", "Service unavailable", "The sidebar app is not built: run npm run build:app");
    }
    const grant = await grantSession(deps, await staffForAgent(deps, agent));
    const timings = { requestTimeoutMs: deps.config.SIDEBAR_REQUEST_TIMEOUT_MS, staleAfterMs: deps.config.SIDEBAR_STALE_AFTER_MS };
    res.status(200).type("html").send(embedSession(html, { token: grant.sessionToken, expiresAt: grant.expiresAt }, timings));
  };

  route(
    router,
    {
      method: "post",
      path: "/app",
      summary: "The sidebar page: Zendesk posts the signed ZAF token (form field `token`)",
      tags: ["session"],
      authenticated: false,
      body: FormToken,
      produces: ["text/html"],
      responses: { 200: "The sidebar app with its session embedded", 401: "Missing or rejected ZAF token", 403: "No panel access", 503: "The app is not built" },
    },
    ({ body, req, res }) => servePage(req, res, body.token),
  );
  route(
    router,
    {
      method: "get",
      path: "/app",
      summary: "Opened without Zendesk's signed POST: explains how to open Steward",
      tags: ["session"],
      authenticated: false,
      produces: ["text/html"],
      responses: { 401: "No ZAF token" },
    },
    ({ req, res }) => servePage(req, res, undefined),
  );
  router.use("/app/assets", express.static(join(dist, "assets"), { index: false, fallthrough: true }));
  return router;
}
