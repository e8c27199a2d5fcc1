import { generateKeyPairSync, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import express from "express";
import { createLocalJWKSet, decodeJwt, exportJWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { launchChromium } from "../../zendesk-app/test/support/browser.js";
import { bannerHtml, COOKIE, ImpersonationKit, impersonationRouter } from "../src/index.js";

/**
 * The Express adapter and the banner in a product whose Steward misbehaves: a fake Steward over HTTP
 * that answers redeem, then status checks as told (live, ended, 503, 404), its clock an hour ahead. The
 * product keeps its sessions in a store two of its processes share, as a real product would; the
 * banner runs in Chromium.
 */
const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const MIN = 60_000;

describe("the Express adapter and the banner in a product", () => {
  let steward: Server;
  let stewardUrl = "";
  /** "ended": the session was revoked on Steward. */
  let answer: "live" | "ended" | 503 | 404 = "live";
  /** What Steward says is left; its own clock runs an hour ahead of the product's. */
  let remainingSeconds = 1800;
  /** How much later than the nearer (idle) deadline the time limit falls; 0: the time limit is the nearer. */
  let absoluteLaterSeconds = 0;
  let mode: "read_only" | "full" = "read_only";
  /** How Steward answers the banner's End, and the ends it confirmed. */
  let endAnswer: "ok" | 503 | 409 = "ok";
  const ended: string[] = [];
  let endCalls = 0;
  /** The events the kit reported. */
  const reported: { route: string; outcome: string; status: number | null; sid: string }[] = [];
  const productSessions = new Map<string, string>();
  let keys: ReturnType<typeof createLocalJWKSet>;
  const kits: ImpersonationKit[] = [];

  const statusOf = (sid: string) => {
    const stewardNow = Date.now() + 60 * MIN;
    const endsAt = new Date(stewardNow + remainingSeconds * 1000).toISOString();
    const absoluteDeadline = new Date(stewardNow + (remainingSeconds + absoluteLaterSeconds) * 1000).toISOString();
    return { sid, status: "live", mode, ticket: "1001", reason: "Customer cannot see projects", user: { id: "usr_1", name: "Cora Customer", email: "cora@example.test" }, account: { id: "acc_1", name: "Acme" }, agent: { zendeskUserId: "9002", name: "Sam", email: "sam@example.test" }, startedAt: new Date(stewardNow).toISOString(), idleDeadline: endsAt, absoluteDeadline, endsAt, remainingSeconds, endedAt: null, endReason: null, actionCount: 0, refusedCount: 0 };
  };

  beforeAll(async () => {
    keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" }] });
    steward = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        if (req.url === "/api/impersonation/redeem") return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(statusOf(decodeJwt((JSON.parse(body) as { grant: string }).grant).sid as string)));
        const sid = /sessions\/([^/?]+)/.exec(req.url ?? "")?.[1] ?? "";
        if (req.url?.endsWith("/end")) {
          endCalls++;
          if (endAnswer !== "ok") return void res.writeHead(endAnswer, { "content-type": "application/problem+json" }).end(JSON.stringify({ code: endAnswer === 409 ? "ticket_closed" : "unavailable" }));
          ended.push(sid);
          return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ...statusOf(sid), status: "ended", remainingSeconds: 0, endedAt: new Date().toISOString(), endReason: "agent" }));
        }
        if (req.url?.endsWith("/events")) reported.push(...(JSON.parse(body) as { events: { route: string; outcome: string; status: number | null }[] }).events.map((e) => ({ ...e, sid })));
        if (req.url?.endsWith("/events")) return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ accepted: 1, duplicates: 0, afterEnd: 0, status: "live" }));
        if (answer === "ended") return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ...statusOf(sid), status: "ended", remainingSeconds: 0, endedAt: new Date().toISOString(), endReason: "admin_revoked" }));
        if (answer !== "live") return void res.writeHead(answer, { "content-type": "application/problem+json" }).end(JSON.stringify({ code: answer === 404 ? "not_found" : "unavailable" }));
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(statusOf(sid)));
      });
    }).listen(0, "127.0.0.1");
    await new Promise((r) => steward.once("listening", r));
    stewardUrl = `http://127.0.0.1:${(steward.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const kit of kits) await kit.close();
    steward.close();
  });

  /** One product process: its own kit, the shared session store, a customer page and a write. No status checks but the test's own unless it says. */
  async function productProcess(options: { pollMs?: number; confirmWithinMs?: number; stewardUrl?: string } = {}) {
    const kit = new ImpersonationKit({ stewardUrl, credential: "prd_demo.sps_abcdefghijklmnopqrstuvwxyz", keys, pollMs: 60 * MIN, confirmWithinMs: 61 * MIN, ...options });
    kits.push(kit);
    const app = express();
    // Behind a TLS-terminating proxy, as products run in production.
    app.set("trust proxy", "loopback");
    app.use(
      impersonationRouter(kit, {
        startSession: (_req, res, imp) => {
          const id = randomUUID();
          productSessions.set(id, imp.userId);
          res.cookie("app_session", id, { path: "/" });
        },
        endSession: (req) => {
          const id = /app_session=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
          if (id) productSessions.delete(id);
        },
      }),
    );
    const signedIn = (req: express.Request) => productSessions.get(/app_session=([^;]+)/.exec(req.headers.cookie ?? "")?.[1] ?? "");
    app.get("/page", (req, res) => (signedIn(req) ? res.send("customer page") : res.status(401).send("sign in")));
    app.get("/banner-page", (req, res) => res.type("html").send(`<!doctype html><html><head><title>Product</title></head><body>${bannerHtml(req)}<main>Projects</main></body></html>`));
    // A product with a modern CSS reset (everything unset) and a long page.
    app.get("/reset-page", (req, res) =>
      res.type("html").send(`<!doctype html><html><head><title>Product</title><style>*:where(:not(html,iframe,canvas,img,svg,video,audio)){all:unset;display:revert}</style></head><body>${bannerHtml(req)}<main style="display:block;height:4000px">Projects</main></body></html>`),
    );
    // A slow write: it completes whether or not the browser is still waiting for the answer.
    app.post("/projects/:id/delete", (req, res) => {
      setTimeout(() => res.redirect(303, "/page"), 200);
    });
    // A product whose routes take the setting as a parameter (Express decodes parameters, not literal paths).
    app.post("/account/:field", (req, res) => (signedIn(req) ? res.send(`changed ${req.params.field}`) : res.status(401).send("sign in")));
    const server = app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    return { kit, url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
  }

  async function enter(product: Awaited<ReturnType<typeof productProcess>>, headers: Record<string, string> = {}): Promise<string> {
    const grant = await new SignJWT({ sid: `imp_${randomUUID()}`, ticket: "1001", mode, act: { sub: "9002", email: "sam@example.test", name: "Sam" } })
      .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "steward-impersonation+jwt" })
      .setIssuer(stewardUrl)
      .setSubject("usr_1")
      .setAudience("prd_demo")
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime("60s")
      .sign(privateKey);
    const entry = await fetch(`${product.url()}/steward/impersonate?grant=${grant}`, { redirect: "manual", headers });
    expect(entry.status).toBe(303);
    lastSetCookie = entry.headers.getSetCookie();
    return entry.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  }

  let lastSetCookie: string[] = [];
  const get = (product: Awaited<ReturnType<typeof productProcess>>, cookie: string) => fetch(`${product.url()}/page`, { redirect: "manual", headers: { cookie, accept: "text/html" } });

  /** The product's page at `path` in Chromium with the session's cookies, once its banner shows the time left. */
  async function bannerPage(product: Awaited<ReturnType<typeof productProcess>>, cookie: string, path: string) {
    const browser = await launchChromium();
    try {
      await browser.context.addCookies(cookie.split("; ").map((pair) => ({ name: pair.split("=")[0]!, value: pair.slice(pair.indexOf("=") + 1), url: product.url() })));
      const page = await browser.newPage();
      await page.goto(`${product.url()}${path}`);
      await page.waitForFunction(() => document.querySelector("steward-banner")?.shadowRoot?.getElementById("time")?.textContent?.startsWith("Ends in"));
      return { page, close: () => browser.close() };
    } catch (err) {
      await browser.close();
      throw err;
    }
  }

  it("the ended page says why for each reason Steward gives, and nothing for one it cannot word", async () => {
    const product = await productProcess();
    const page = async (query: string) => (await (await fetch(`${product.url()}/steward/ended${query}`)).text()).replace(/\s+/g, " ");
    expect(await page("?reason=idle_timeout")).toContain("It reached the idle limit: there was no activity in the product for too long.");
    expect(await page("?reason=absolute_timeout")).toContain("It reached its time limit.");
    expect(await page("?reason=admin_revoked")).toContain("Operations or an admin revoked it.");
    expect(await page("?reason=agent")).toContain("It was ended with End session");
    expect(await page("?reason=staff_deactivated")).toContain("Your panel access was removed");
    expect(await page("?reason=target_changed")).toContain("The customer's account or user changed");
    const plain = "You are no longer viewing this customer's account. You can close this tab and go back to the ticket.";
    expect(await page("")).toContain(plain);
    expect(await page("?reason=%3Cscript%3E")).toContain(plain);
    expect(await page("?reason=toString")).toContain(plain);
    product.close();
  });

  it("the banner opens the ended page saying why, when the session is revoked on Steward", async () => {
    answer = "live";
    remainingSeconds = 1800;
    const product = await productProcess();
    const cookie = await enter(product);
    const { page, close } = await bannerPage(product, cookie, "/banner-page");
    try {
      answer = "ended";
      await product.kit.poll();
      await page.waitForURL(/\/steward\/ended/);
      expect(new URL(page.url()).search).toBe("?reason=admin_revoked");
      expect(await page.textContent("#steward-ended")).toContain("Operations or an admin revoked it.");
    } finally {
      answer = "live";
      await close();
      product.close();
    }
  });

  it("full access still refuses the always-deny list when the path is percent-encoded", async () => {
    answer = "live";
    remainingSeconds = 1800;
    mode = "full";
    const product = await productProcess();
    const cookie = await enter(product);
    mode = "read_only";
    for (const path of ["/account/email", "/account/%65mail", "/account/%70assword", "/account/%32fa"]) {
      const res = await fetch(`${product.url()}${path}`, { method: "POST", headers: { cookie, accept: "application/json" } });
      expect(res.status, path).toBe(403);
    }
    product.close();
  });

  it("the banner counts down what is left, though Steward's clock runs an hour ahead of the product's and the browser's", async () => {
    answer = "live";
    remainingSeconds = 1800;
    const product = await productProcess();
    const cookie = await enter(product);
    const status = (await (await fetch(`${product.url()}/steward/impersonation/status`, { headers: { cookie } })).json()) as { endsInSeconds: number };
    expect(status.endsInSeconds).toBeGreaterThanOrEqual(1795);
    expect(status.endsInSeconds).toBeLessThanOrEqual(1800);
    const { page, close } = await bannerPage(product, cookie, "/banner-page");
    try {
      const time = await page.evaluate(() => document.querySelector("steward-banner")!.shadowRoot!.getElementById("time")!.textContent);
      expect(time).toMatch(/^Ends in (29:[0-5]\d|30:00)$/);
    } finally {
      await close();
      product.close();
    }
  });

  it("the banner says when it counts the idle limit, and when the time limit falls, as the sidebar does", async () => {
    answer = "live";
    // Just over a minute: the one-minute warning comes after the first announcement, not under it.
    remainingSeconds = 64;
    absoluteLaterSeconds = 1200;
    const product = await productProcess();
    const cookie = await enter(product);
    const status = (await (await fetch(`${product.url()}/steward/impersonation/status`, { headers: { cookie } })).json()) as { idle: boolean; latestInSeconds: number; endsInSeconds: number };
    expect(status).toMatchObject({ idle: true });
    expect(status.latestInSeconds - status.endsInSeconds).toBe(1200);
    const { page, close } = await bannerPage(product, cookie, "/banner-page");
    try {
      const time = await page.evaluate(() => document.querySelector("steward-banner")!.shadowRoot!.getElementById("time")!.textContent);
      const shown = /^Ends in (\d+):(\d\d) without activity in the product \(at the latest in (\d+):(\d\d)\)$/.exec(time ?? "");
      expect(shown, time ?? "").not.toBeNull();
      const [idleSeconds, latestSeconds] = [Number(shown![1]) * 60 + Number(shown![2]), Number(shown![3]) * 60 + Number(shown![4])];
      // However long the page took to open on a loaded machine: the idle limit below 64 s, and the latest exactly 20 minutes on.
      expect(idleSeconds).toBeLessThanOrEqual(64);
      expect(latestSeconds - idleSeconds).toBe(1200);
      // Within the last minute: the screen reader hears which limit it is too.
      await page.waitForFunction(() => document.querySelector("steward-banner")!.shadowRoot!.getElementById("say")!.textContent!.includes("one minute"));
      // On its own, or after the first announcement when the page opened within the last minute (a slow machine).
      expect(await page.evaluate(() => document.querySelector("steward-banner")!.shadowRoot!.getElementById("say")!.textContent)).toMatch(/(^|\. )The support session ends in one minute without activity in the product\.$/);
    } finally {
      absoluteLaterSeconds = 0;
      remainingSeconds = 1800;
      await close();
      product.close();
    }
  });

  it("a banner opened within the last minute says who is viewing and that the session ends in a minute, neither hiding the other", async () => {
    answer = "live";
    remainingSeconds = 50;
    const product = await productProcess();
    const cookie = await enter(product);
    const { page, close } = await bannerPage(product, cookie, "/banner-page");
    try {
      await page.waitForFunction(() => document.querySelector("steward-banner")?.shadowRoot?.getElementById("say")?.textContent?.includes("You are viewing"));
      const said = await page.evaluate(() => document.querySelector("steward-banner")!.shadowRoot!.getElementById("say")!.textContent);
      expect(said).toMatch(/^You are viewing .+\. The support session ends in one minute\.$/);
    } finally {
      remainingSeconds = 1800;
      await close();
      product.close();
    }
  });

  it("the product's CSS reset does not take the banner out of view: it stays fixed on top as the page scrolls", async () => {
    answer = "live";
    remainingSeconds = 1800;
    const product = await productProcess();
    const cookie = await enter(product);
    const { page, close } = await bannerPage(product, cookie, "/reset-page");
    try {
      await page.evaluate(() => window.scrollTo(0, 2000));
      const seen = await page.evaluate(() => {
        const banner = document.querySelector("steward-banner")!;
        const box = banner.getBoundingClientRect();
        return { top: box.top, height: box.height, width: box.width, onTop: document.elementFromPoint(box.left + 5, box.top + box.height / 2) === banner };
      });
      expect(seen).toMatchObject({ top: 0, onTop: true });
      expect(seen.height).toBeGreaterThan(20);
      expect(seen.width).toBeGreaterThan(600);
    } finally {
      await close();
      product.close();
    }
  });

  it("in a narrow window the banner wraps to more lines and the page starts below it, not under it", async () => {
    answer = "live";
    remainingSeconds = 1800;
    const product = await productProcess();
    const cookie = await enter(product);
    const { page, close } = await bannerPage(product, cookie, "/banner-page");
    try {
      await page.setViewportSize({ width: 320, height: 640 });
      const layout = () =>
        page.evaluate(() => {
          const banner = document.querySelector("steward-banner")!.getBoundingClientRect();
          return { bannerHeight: Math.round(banner.height), contentTop: Math.round(document.querySelector("main")!.getBoundingClientRect().top), bannerBottom: Math.round(banner.bottom) };
        });
      // Two lines or more at 320 px (who, mode, time, End), and the product's first line still in view.
      await expect.poll(async () => (await layout()).bannerHeight).toBeGreaterThan(60);
      await expect.poll(async () => { const seen = await layout(); return seen.contentTop >= seen.bannerBottom; }).toBe(true);
    } finally {
      await close();
      product.close();
    }
  });

  it("a refused page asks the browser for no favicon: the refusal is the one event reported, not also a failed GET /favicon.ico", async () => {
    answer = "live";
    remainingSeconds = 1800;
    const product = await productProcess();
    const cookie = await enter(product);
    const sid = product.kit.unseal(decodeURIComponent(new RegExp(`${COOKIE}=([^;]+)`).exec(cookie)![1]!))!;
    const browser = await launchChromium();
    try {
      await browser.context.addCookies(cookie.split("; ").map((pair) => ({ name: pair.split("=")[0]!, value: pair.slice(pair.indexOf("=") + 1), url: product.url() })));
      const page = await browser.newPage();
      const refused = await page.goto(`${product.url()}/billing/payment-methods`);
      expect(refused?.status()).toBe(403);
      await page.waitForSelector("#steward-refused");
      await page.waitForLoadState("networkidle");
      await product.kit.flush();
      // This session's events only: an earlier test's product may still be flushing its own.
      expect(reported.filter((e) => e.sid === sid).map((e) => `${e.route} ${e.outcome}`)).toEqual(["GET /billing/payment-methods refused"]);
    } finally {
      await browser.close();
      product.close();
    }
  });

  it("End while Steward is failing: the session ends in the product at once, and the end reaches Steward when it is back", async () => {
    answer = "live";
    remainingSeconds = 1800;
    const product = await productProcess();
    const cookie = await enter(product);
    const sid = product.kit.unseal(decodeURIComponent(new RegExp(`${COOKIE}=([^;]+)`).exec(cookie)![1]!))!;
    answer = 503;
    endAnswer = 503;
    const end = await fetch(`${product.url()}/steward/impersonation/end`, { method: "POST", headers: { cookie } });
    expect(end.status).toBe(200);
    // The banner opens the ended page saying why, though Steward did not confirm the end yet.
    expect(await end.json()).toEqual({ ended: "/steward/ended?reason=agent" });
    expect((await get(product, cookie)).status).toBe(303);
    expect(ended).not.toContain(sid);
    endAnswer = "ok";
    await product.kit.poll();
    expect(ended.filter((s) => s === sid)).toHaveLength(1);
    await product.kit.poll();
    expect(ended.filter((s) => s === sid)).toHaveLength(1);
    product.close();
  });

  it("a write whose browser leaves before the answer is still reported, with the product's answer", async () => {
    answer = "live";
    remainingSeconds = 1800;
    mode = "full";
    const product = await productProcess();
    const cookie = await enter(product);
    mode = "read_only";
    const port = Number(new URL(product.url()).port);
    await new Promise<void>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.write(`POST /projects/7/delete HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nContent-Length: 0\r\n\r\n`);
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 50);
      });
    });
    await new Promise((r) => setTimeout(r, 400));
    await product.kit.flush();
    expect(reported.filter((e) => e.route === "POST /projects/:id/delete")).toEqual([expect.objectContaining({ outcome: "succeeded", status: 303 })]);
    product.close();
  });

  it("the session cookie is Secure when the product is reached over HTTPS, so it never travels in the clear", async () => {
    answer = "live";
    remainingSeconds = 1800;
    const product = await productProcess();
    await enter(product, { "x-forwarded-proto": "https" });
    const kitCookie = lastSetCookie.find((c) => c.startsWith(`${COOKIE}=`))!;
    expect(kitCookie).toMatch(/; Secure/i);
    expect(kitCookie).toMatch(/; HttpOnly/i);
    await enter(product);
    expect(lastSetCookie.find((c) => c.startsWith(`${COOKIE}=`))).not.toMatch(/; Secure/i);
    product.close();
  });

  it("End refused by Steward (the ticket was closed): the product session still ends, and the refusal is not repeated at every poll", async () => {
    answer = "live";
    remainingSeconds = 1800;
    const product = await productProcess();
    const cookie = await enter(product);
    endAnswer = 409;
    endCalls = 0;
    expect((await fetch(`${product.url()}/steward/impersonation/end`, { method: "POST", headers: { cookie } })).status).toBe(200);
    expect((await get(product, cookie)).status).toBe(303);
    await product.kit.poll();
    await product.kit.poll();
    expect(endCalls).toBe(1);
    endAnswer = "ok";
    product.close();
  });

  it("ends the session at its time limit on the product's clock, from Steward's remainingSeconds, though Steward is unreachable and its clock an hour ahead", async () => {
    answer = "live";
    remainingSeconds = 2;
    const product = await productProcess();
    const cookie = await enter(product);
    answer = 503;
    expect((await get(product, cookie)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    const after = await get(product, cookie);
    expect(after.status).toBe(303);
    // The kit counted the time limit down itself: the ended page says that is why.
    expect(after.headers.get("location")).toBe("/steward/ended?reason=absolute_timeout");
    expect(await (await fetch(`${product.url()}/steward/ended?reason=absolute_timeout`)).text()).toContain("It reached its time limit.");
    // The product session went with it: the customer's page needs a sign-in again.
    expect((await get(product, cookie.replace(new RegExp(`${COOKIE}=[^;]+;? ?`), ""))).status).toBe(401);
    product.close();
  });

  it("Steward unreachable for longer than confirmWithinMs: the agent's requests are refused (503) but the session is not ended; a confirmation resumes it, a revocation seen after the outage ends it", async () => {
    answer = "live";
    // Long enough that the time limit plays no part here.
    remainingSeconds = 4 * 3600;
    mode = "full";
    // This process's clock only (Steward's answers and the sockets keep real time); put back below.
    vi.useFakeTimers({ toFake: ["Date"] });
    const product = await productProcess({ pollMs: 60 * MIN, confirmWithinMs: 90 * MIN });
    try {
      const cookie = await enter(product);
      const json = (path: string, method = "GET") => fetch(`${product.url()}${path}`, { method, headers: { cookie, accept: "application/json" } });
      answer = 503;
      await product.kit.poll();
      vi.setSystemTime(Date.now() + 90 * MIN);
      // Confirmed 90 minutes ago (the redeem), the bound: still allowed.
      expect((await get(product, cookie)).status).toBe(200);
      vi.setSystemTime(Date.now() + 1);
      for (const [path, method] of [["/page", "GET"], ["/account/name", "POST"]] as const) {
        const refused = await json(path, method);
        expect(refused.status, path).toBe(503);
        expect(refused.headers.get("retry-after")).toBe("2");
        expect(await refused.json()).toEqual({ error: "impersonation_unconfirmed", message: expect.stringMatching(/^Steward cannot be reached to confirm that this support session is still allowed/) });
        // Not ended: neither cookie is cleared.
        expect(refused.headers.getSetCookie()).toEqual([]);
      }
      const page = await get(product, cookie);
      expect(page.status).toBe(503);
      expect(await page.text()).toContain("Steward cannot be reached");
      expect(await (await json("/steward/impersonation/status")).json()).toMatchObject({ live: true, confirmed: false });
      // Steward answers again: the same session carries on, the product's sign-in with it.
      answer = "live";
      await product.kit.poll();
      expect((await get(product, cookie)).status).toBe(200);
      expect(await (await json("/steward/impersonation/status")).json()).toMatchObject({ live: true, confirmed: true });
      // Out of reach again, and the session revoked meanwhile: refused until the revocation is seen, then ended.
      answer = 503;
      await product.kit.poll();
      vi.setSystemTime(Date.now() + 90 * MIN + 1);
      expect((await json("/page")).status).toBe(503);
      answer = "ended";
      await product.kit.poll();
      const ended = await get(product, cookie);
      expect(ended.status).toBe(303);
      expect(ended.headers.get("location")).toBe("/steward/ended?reason=admin_revoked");
      expect(await (await json("/steward/impersonation/status")).json()).toEqual({ live: false, ended: "/steward/ended?reason=admin_revoked" });
      expect((await get(product, cookie.replace(new RegExp(`${COOKIE}=[^;]+;? ?`), ""))).status).toBe(401);
    } finally {
      vi.useRealTimers();
      answer = "live";
      mode = "read_only";
      product.close();
    }
  });

  it("the banner says Steward cannot be reached while the session is unconfirmed (or cannot be checked at all), without ending it, and carries on once it is confirmed", async () => {
    answer = "live";
    remainingSeconds = 1800;
    const product = await productProcess({ pollMs: 100, confirmWithinMs: 600 });
    const cookie = await enter(product);
    const { page, close } = await bannerPage(product, cookie, "/banner-page");
    const offText = () => page.evaluate(() => document.querySelector("steward-banner")!.shadowRoot!.getElementById("off")!.textContent);
    try {
      expect(await offText()).toBe("");
      answer = 503;
      await page.waitForFunction(() => document.querySelector("steward-banner")?.shadowRoot?.getElementById("off")?.textContent?.startsWith("Steward cannot be reached"));
      expect(new URL(page.url()).pathname).toBe("/banner-page");
      answer = "live";
      await page.waitForFunction(() => document.querySelector("steward-banner")?.shadowRoot?.getElementById("off")?.textContent === "");
      expect(await page.evaluate(() => document.querySelector("steward-banner")!.shadowRoot!.getElementById("time")!.textContent)).toMatch(/^Ends in /);
      // The banner's checks reach another process of the product (a load balancer), one that does not know the
      // session and cannot reach Steward to check it at all (503): paused too, not ended.
      const second = await productProcess({ stewardUrl: "http://127.0.0.1:9" });
      await page.route("**/steward/impersonation/status", (route) => route.continue({ url: `${second.url()}/steward/impersonation/status` }));
      try {
        await page.waitForFunction(() => document.querySelector("steward-banner")?.shadowRoot?.getElementById("off")?.textContent?.startsWith("Steward cannot be reached"));
        await new Promise((r) => setTimeout(r, 1500));
        expect(new URL(page.url()).pathname).toBe("/banner-page");
      } finally {
        second.close();
      }
    } finally {
      answer = "live";
      await close();
      product.close();
    }
  });

  it("a product process that does not know the session refuses while Steward is unreachable (503, cookie kept), and signs the browser out when Steward does not know it", async () => {
    answer = "live";
    remainingSeconds = 1800;
    const first = await productProcess();
    const cookie = await enter(first);
    const second = await productProcess();
    answer = 503;
    const refused = await get(second, cookie);
    expect(refused.status).toBe(503);
    expect(refused.headers.getSetCookie()).toEqual([]);
    answer = 404;
    const unknown = await get(second, cookie);
    expect(unknown.status).toBe(303);
    // Unknown to Steward: no reason to give, none guessed.
    expect(unknown.headers.get("location")).toBe("/steward/ended");
    expect((await get(second, cookie.replace(new RegExp(`${COOKIE}=[^;]+;? ?`), ""))).status).toBe(401);
    first.close();
    second.close();
  });
});
