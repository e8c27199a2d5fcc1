import { randomUUID } from "node:crypto";
import express, { type Express, type Request, type Response } from "express";
import { bannerHtml, FileEventStore, ImpersonationKit, impersonationRouter, type Impersonation } from "@steward/impersonation-kit";
import { membersOf, planOf, projectsOf } from "./catalog.js";
import { directoryRouter, type DirectoryRouterOptions } from "./directory/routes.js";

/**
 * The demo product: a customer's projects, members, settings and billing. Nobody signs in here by
 * password; the only way in is Steward's "View as customer", through the kit's public entry.
 */
interface ProductSession {
  userId: string;
  name: string;
  email: string;
  accountId: string;
  accountName: string;
  /** Flagged so the product never mistakes an agent for the customer. */
  impersonatedBy: Impersonation["agent"];
  /** The Steward session it belongs to: valid only while the kit vouches for that session on the request. */
  sid: string;
}

const COOKIE = "demo_session";

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function createDemoProduct(options: { stewardUrl: string; credential: string; pollMs?: number; directory?: DirectoryRouterOptions; eventsDir?: string }): { app: Express; kit: ImpersonationKit } {
  // Events Steward has not stored yet are kept on disk: a restart of the product does not take them from the audit log.
  const events = options.eventsDir ? { store: new FileEventStore(options.eventsDir) } : undefined;
  const kit = new ImpersonationKit({ stewardUrl: options.stewardUrl, credential: options.credential, pollMs: options.pollMs ?? 1000, events, onError: () => undefined });
  const sessions = new Map<string, ProductSession>();
  const app = express();
  app.disable("x-powered-by");
  app.use(express.urlencoded({ extended: false }));
  // Steward's directory contract over the product's own store (DIRECTORY_PROVIDER=http in Steward).
  if (options.directory) app.use(directoryRouter(options.directory));

  const sessionOf = (req: Request) => {
    const id = /(?:^|;\s*)demo_session=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
    const session = id ? sessions.get(id) : undefined;
    // Without the kit's cookie (deleted, or another session's) the guard, the time limit and the events would not apply.
    return session && req.impersonation?.sid === session.sid ? session : undefined;
  };

  app.use(
    impersonationRouter(kit, {
      startSession: (req, res, imp) => {
        const id = randomUUID();
        const s = imp.status;
        sessions.set(id, { userId: imp.userId, name: s.user.name, email: s.user.email, accountId: s.account.id, accountName: s.account.name, impersonatedBy: imp.agent, sid: imp.sid });
        res.cookie(COOKIE, id, { httpOnly: true, sameSite: "lax", path: "/", secure: req.secure });
      },
      endSession: (req, res) => {
        const id = /(?:^|;\s*)demo_session=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
        if (id) sessions.delete(id);
        res.clearCookie(COOKIE, { path: "/" });
      },
      landingPath: "/projects",
    }),
  );

  const layout = (req: Request, res: Response, title: string, body: string) => {
    const me = sessionOf(req);
    const nav = ["projects", "members", "settings", "billing"].map((p) => `<a href="/${p}">${p[0]!.toUpperCase()}${p.slice(1)}</a>`).join(" · ");
    res.type("html").send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)} — Demo product</title><link rel="icon" href="data:,">
<style>body{font:15px/1.5 system-ui,sans-serif;margin:0}main,nav{max-width:48rem;margin:1rem auto;padding:0 1rem}form{margin:.5rem 0}</style></head>
<body>${bannerHtml(req)}<nav>${nav}${me ? ` · signed in as ${escape(me.name)} (${escape(me.accountName)})` : ""}</nav><main><h1>${escape(title)}</h1>${body}</main></body></html>`);
  };

  const signedIn = (req: Request, res: Response): ProductSession | null => {
    const me = sessionOf(req);
    if (!me) layout(req, res.status(401), "Not signed in", "<p>This demo product is opened from Steward's sidebar: View as customer.</p>");
    return me ?? null;
  };

  app.get("/", (_req, res) => res.redirect(303, "/projects"));
  app.get("/projects", (req, res) => {
    const me = signedIn(req, res);
    if (!me) return;
    const rows = projectsOf(me.accountId).map((p) => `<li>${escape(p.name)} <small>updated ${p.updated}</small><form method="post" action="/projects/${p.id}/rename"><input name="name" aria-label="New name for ${escape(p.name)}"><button>Rename</button></form></li>`);
    layout(req, res, "Projects", `<ul id="projects">${rows.join("")}</ul><form method="post" action="/projects"><input name="name" aria-label="Project name"><button id="create-project">Create project</button></form>`);
  });
  app.post("/projects", (req, res) => (signedIn(req, res) ? res.redirect(303, "/projects") : undefined));
  app.post("/projects/:id/rename", (req, res) => (signedIn(req, res) ? res.redirect(303, "/projects") : undefined));
  app.get("/members", (req, res) => {
    const me = signedIn(req, res);
    if (!me) return;
    layout(req, res, "Members", `<ul>${membersOf(me.accountId, me).map((m) => `<li>${escape(m.name)} — ${m.role}</li>`).join("")}</ul><form method="post" action="/members/invite"><input name="email" aria-label="Email"><button>Invite</button></form>`);
  });
  app.post("/members/invite", (req, res) => (signedIn(req, res) ? res.redirect(303, "/members") : undefined));
  app.get("/settings", (req, res) => {
    const me = signedIn(req, res);
    if (!me) return;
    layout(req, res, "Settings", `<p>Name: ${escape(me.name)}<br>Email: ${escape(me.email)}</p><form method="post" action="/settings/password"><button>Change password</button></form>`);
  });
  app.post("/settings/password", (req, res) => (signedIn(req, res) ? res.redirect(303, "/settings") : undefined));
  app.get("/billing", (req, res) => {
    const me = signedIn(req, res);
    if (!me) return;
    const plan = planOf(me.accountId);
    layout(req, res, "Billing", `<p>Plan: ${plan.plan}, ${plan.seats} seats<br>Card: ${plan.card}</p><form method="post" action="/billing/payment-methods"><button>Replace card</button></form>`);
  });
  app.post("/billing/payment-methods", (req, res) => (signedIn(req, res) ? res.redirect(303, "/billing") : undefined));
  return { app, kit };
}
