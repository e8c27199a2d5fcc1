import { readFileSync } from "node:fs";
import { Router, type NextFunction, type Request, type Response } from "express";
import type { ImpersonationKit } from "../core/kit.js";
import { StewardApiError } from "../core/stewardClient.js";
import type { Impersonation } from "../core/types.js";
import { endedPage, endedQuery, refusedPage } from "./pages.js";

declare module "express-serve-static-core" {
  interface Request {
    /** Set while a support agent views the product as a customer: who is really acting. */
    impersonation?: Impersonation;
  }
}

/**
 * The Express adapter: the entry route that redeems a grant, the banner's status and End routes, the
 * "ended" page, and a guard on every other request (read-only and always-deny refusals with 403, a
 * session Steward has not confirmed lately with 503, an event for every request). The product supplies how it signs a browser in and out.
 */
export interface ExpressHooks {
  /**
   * Sign this browser in as the customer (`impersonation.userId`), flagged as impersonated. Honour that
   * product session only on requests whose `req.impersonation.sid` is this one's: without the kit's
   * cookie the guard, the time limit and the events would not apply.
   */
  startSession(req: Request, res: Response, impersonation: Impersonation): void | Promise<void>;
  /** Destroy the product session of this browser. */
  endSession(req: Request, res: Response): void | Promise<void>;
  /** Where the agent lands after the grant is redeemed. */
  landingPath?: string;
  /** The route name reported in events (defaults to `METHOD /path`). */
  routeOf?: (req: Request) => string;
}

export const COOKIE = "steward_imp";
const bannerScript = readFileSync(new URL("../banner/banner.js", import.meta.url), "utf8");

function cookieOf(req: Request): string | undefined {
  const header = req.headers.cookie ?? "";
  for (const part of header.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === COOKIE) return decodeURIComponent(rest.join("="));
  }
  return undefined;
}

function wantsHtml(req: Request): boolean {
  return req.method === "GET" && (req.get("accept") ?? "").includes("text/html");
}

export function impersonationRouter(kit: ImpersonationKit, hooks: ExpressHooks): Router {
  const router = Router();
  const routeOf = hooks.routeOf ?? ((req: Request) => `${req.method} ${req.route?.path ?? req.path}`);
  const clearCookie = (res: Response) => res.clearCookie(COOKIE, { path: "/" });

  router.get("/steward/impersonate", async (req, res) => {
    res.setHeader("Referrer-Policy", "no-referrer");
    res.setHeader("Cache-Control", "no-store");
    const grant = typeof req.query.grant === "string" ? req.query.grant : "";
    try {
      const impersonation = await kit.begin(grant);
      await hooks.startSession(req, res, impersonation);
      // Secure over HTTPS (req.secure follows the product's trust proxy setting behind a TLS proxy).
      res.cookie(COOKIE, kit.seal(impersonation.sid), { httpOnly: true, sameSite: "lax", path: "/", secure: req.secure });
      res.redirect(303, hooks.landingPath ?? "/");
    } catch (err) {
      kit.options.onError?.(err);
      res.status(401).type("html").send(refusedPage("This support link is not valid any more (it works once, within a minute). Start a new session from the ticket."));
    }
  });

  router.get("/steward/banner.js", (_req, res) => {
    res.type("text/javascript").setHeader("Cache-Control", "no-cache");
    res.send(bannerScript);
  });

  router.get("/steward/ended", async (req, res) => {
    await hooks.endSession(req, res);
    clearCookie(res);
    res.type("html").send(endedPage(typeof req.query.reason === "string" ? req.query.reason : undefined));
  });

  router.use(async (req: Request, res: Response, next: NextFunction) => {
    try {
      const sid = kit.unseal(cookieOf(req));
      if (!sid) return next();
      let impersonation;
      try {
        impersonation = await kit.lookup(sid);
      } catch (err) {
        if (!(err instanceof StewardApiError)) throw err;
        // Steward cannot say whether the session still stands: refuse rather than let the request through unguarded.
        kit.options.onError?.(err);
        const message = "The support session cannot be checked right now. Try again in a moment.";
        return wantsHtml(req) ? res.status(503).type("html").send(refusedPage(message)) : res.status(503).json({ error: "impersonation_unavailable", message });
      }
      // Unknown to Steward or ended: the product session it opened ends too (else it would go on unguarded).
      if (!impersonation || impersonation.status.status === "ended") {
        await hooks.endSession(req, res);
        clearCookie(res);
        // Why, when known, for the ended page the banner or this redirect opens.
        const ended = `/steward/ended${endedQuery(impersonation?.status.endReason)}`;
        if (req.path === "/steward/impersonation/status") return res.json({ live: false, ended });
        return wantsHtml(req) ? res.redirect(303, ended) : res.status(401).json({ error: "impersonation_ended", message: "The support session has ended." });
      }
      req.impersonation = impersonation;
      if (req.path === "/steward/impersonation/status") {
        const s = impersonation.status;
        const endsInSeconds = kit.secondsLeft(sid);
        // Counting the idle limit (activity moves it on): the banner says so, and when the time limit falls (both on Steward's clock, so their gap has no skew).
        const idle = s.endsAt !== s.absoluteDeadline ? { idle: true, latestInSeconds: endsInSeconds + Math.max(0, Math.round((Date.parse(s.absoluteDeadline) - Date.parse(s.endsAt)) / 1000)) } : { idle: false };
        return res.json({ live: true, confirmed: kit.isConfirmed(sid), customer: s.user.name, account: s.account.name, agent: s.agent.name ?? s.agent.email, ticket: s.ticket, mode: s.mode, endsAt: s.endsAt, endsInSeconds, ...idle, actions: s.actionCount });
      }
      if (req.path === "/steward/impersonation/end" && req.method === "POST") {
        const status = await kit.end(sid);
        await hooks.endSession(req, res);
        clearCookie(res);
        return res.json({ ended: `/steward/ended${endedQuery(status.endReason)}` });
      }
      kit.touch(sid);
      const decision = kit.guard(impersonation, req.method, req.path);
      if (!decision.allowed) {
        // Unconfirmed: refused until Steward answers again (503, worth retrying), the product session kept.
        const status = decision.unconfirmed ? 503 : 403;
        kit.record(sid, { method: req.method, route: `${req.method} ${req.path}`, object: null, outcome: "refused", status, detail: decision.reason ?? "refused" });
        const message = decision.reason ?? "Not allowed during a support session.";
        if (decision.unconfirmed) res.setHeader("Retry-After", "2");
        const error = decision.unconfirmed ? "impersonation_unconfirmed" : "impersonation_refused";
        return (req.get("accept") ?? "").includes("text/html") ? res.status(status).type("html").send(refusedPage(message)) : res.status(status).json({ error, message });
      }
      let recorded = false;
      const record = () => {
        if (recorded) return;
        recorded = true;
        kit.record(sid, { method: req.method, route: routeOf(req), object: null, outcome: res.statusCode < 400 ? "succeeded" : "failed", status: res.statusCode, detail: null });
      };
      // Recorded when the product answers: if the browser has already left, "finish" never comes, though the handler did its work.
      const end = res.end.bind(res);
      res.end = ((...args: Parameters<typeof end>) => {
        record();
        return end(...args);
      }) as typeof res.end;
      res.on("finish", record);
      next();
    } catch (err) {
      next(err);
    }
  });
  return router;
}

/** `<steward-banner>` and its script, for the product's layout; empty when nobody is impersonating. */
export function bannerHtml(req: Request): string {
  return req.impersonation ? '<steward-banner></steward-banner><script src="/steward/banner.js" defer></script>' : "";
}
