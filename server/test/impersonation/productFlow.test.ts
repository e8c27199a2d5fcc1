import { spawn, type ChildProcess } from "node:child_process";
import type { Server } from "node:http";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { auditOf, createHarness, HARNESS_TIMEOUT_MS, sessionOf, type Harness } from "../actions/harness.js";
import { addProduct, endAllSessions, viewableUsers, type TestProduct } from "./support.js";
import { raisedBy } from "../support/tickets.js";
import { freePort } from "../support/stewardProcess.js";

/**
 * The kit in a real product: Steward listening on a port, the demo product (examples/demo-product, the
 * kit's public entry only) in its own process. A browser-like client follows the grant link, is
 * refused a write in read-only mode (audited as a refused event credited to the agent), and sees the
 * session end within 5 s (real time) of an operations agent revoking it on Steward.
 */
// Ports the OS picks at start: fixed ones sit in the ephemeral range, where any test's outgoing
// connection may hold them (CI once failed with EADDRINUSE on a fixed port).
let STEWARD_PORT = 0;
let PRODUCT_PORT = 0;
let productUrl = "";

class Browser {
  readonly cookies = new Map<string, string>();
  async go(path: string, init: RequestInit = {}): Promise<Response> {
    const response = await fetch(`${productUrl}${path}`, { ...init, redirect: "manual", headers: { accept: "text/html", cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "), ...(init.headers ?? {}) } });
    for (const set of response.headers.getSetCookie()) {
      const [pair] = set.split(";");
      const [name, ...value] = (pair ?? "").split("=");
      if (!name) continue;
      if (/expires=Thu, 01 Jan 1970/i.test(set) || value.join("=") === "") this.cookies.delete(name);
      else this.cookies.set(name, value.join("="));
    }
    return response;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("timed out");
}

describe("the kit in the demo product (real processes)", () => {
  let h: Harness;
  let product: TestProduct;
  let steward: Server;
  let child: ChildProcess;
  beforeAll(async () => {
    STEWARD_PORT = await freePort();
    PRODUCT_PORT = await freePort();
    productUrl = `http://127.0.0.1:${PRODUCT_PORT}`;
    h = await createHarness("pglite", { env: { PUBLIC_URL: `http://127.0.0.1:${STEWARD_PORT}` } });
    product = await addProduct(h, "prd_kit", productUrl);
    steward = await new Promise<Server>((resolve, reject) => {
      const server = createApp(h.deps).listen(STEWARD_PORT, "127.0.0.1", () => resolve(server));
      server.once("error", reject);
    });
    child = spawn(process.execPath, ["--import", "tsx", "examples/demo-product/src/main.ts"], {
      env: { ...process.env, PORT: String(PRODUCT_PORT), STEWARD_URL: `http://127.0.0.1:${STEWARD_PORT}`, STEWARD_PRODUCT_CREDENTIAL: product.credential },
      stdio: ["ignore", "pipe", "inherit"],
    });
    await waitFor(async () => (await fetch(`${productUrl}/projects`).catch(() => null)) !== null, 30_000);
  }, HARNESS_TIMEOUT_MS);
  afterAll(async () => {
    child?.kill("SIGTERM");
    steward?.close();
    await h?.close();
  });

  async function openSession(role: "support_full" | "operations", offset: number) {
    await endAllSessions(h);
    const [user] = await viewableUsers(h, 1, offset);
    const started = await request(h.app)
      .post("/api/actions/impersonation.start")
      .set("Authorization", `Bearer ${await sessionOf(h, role)}`)
      .send({ ticketId: await raisedBy(h.deps, { type: "user", id: user!.id }, "1002"), reason: "Customer cannot find their projects", target: { type: "user", id: user!.id }, expectedVersion: (await h.deps.database.db.selectFrom("users").select("version").where("id", "=", user!.id).executeTakeFirstOrThrow()).version, input: { mode: "read_only", minutes: 30, productId: product.id } });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const result = started.body.result as { sessionId: string; openUrl: string };
    const browser = new Browser();
    const entry = await browser.go(new URL(result.openUrl).pathname + new URL(result.openUrl).search);
    expect(entry.status).toBe(303);
    expect(entry.headers.get("location")).toBe("/projects");
    expect(entry.headers.get("referrer-policy")).toBe("no-referrer");
    return { browser, sid: result.sessionId, user: user!, openUrl: result.openUrl };
  }

  it("grant link → product session with the banner; the link works once; read-only refuses writes (audited as refused events of the agent)", async () => {
    const { browser, sid, user, openUrl } = await openSession("support_full", 30);
    const projects = await browser.go("/projects");
    expect(projects.status).toBe(200);
    const html = await projects.text();
    expect(html).toContain("<steward-banner>");
    expect(html).toContain(`signed in as ${user.name}`);
    // An empty icon: the browser asks for no /favicon.ico, which the product does not serve.
    expect(html).toContain('<link rel="icon" href="data:,">');

    const again = await new Browser().go(new URL(openUrl).pathname + new URL(openUrl).search);
    expect(again.status).toBe(401);

    const write = await browser.go("/projects", { method: "POST", body: "name=Hacked", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(write.status).toBe(403);
    expect(await write.text()).toContain("read-only support session");
    const password = await browser.go("/settings/password", { method: "POST" });
    expect(password.status).toBe(403);
    expect(await password.text()).toContain("never change the customer&#39;s password");

    const status = await browser.go("/steward/impersonation/status", { headers: { accept: "application/json" } });
    expect(await status.json()).toMatchObject({ live: true, customer: user.name, agent: "Sam Support", ticket: "1002", mode: "read_only" });

    await waitFor(async () => (await auditOf(h.deps, "impersonation.event", user.id)).filter((e) => (e.after as { sessionId: string }).sessionId === sid).length >= 3, 10_000);
    const events = (await auditOf(h.deps, "impersonation.event", user.id)).filter((e) => (e.after as { sessionId: string }).sessionId === sid);
    const refused = events.filter((e) => e.outcome === "denied");
    expect(refused.map((e) => (e.after as { route: string }).route).sort()).toEqual(["POST /projects", "POST /settings/password"]);
    for (const e of events) expect(e).toMatchObject({ actor: { staffId: "stf_demo_full" }, ticketId: "1002" });
  });

  it("a request the contract did not foresee (a long path, another method) is audited with the rest of its batch, not lost with it", async () => {
    const { browser, sid, user } = await openSession("support_full", 33);
    // Within one flush of the kit: a plain page, a 404 on a very long path, and a WebDAV method (refused in read-only).
    expect((await browser.go("/projects")).status).toBe(200);
    expect((await browser.go(`/projects/${"x".repeat(400)}`)).status).toBe(404);
    expect((await browser.go("/projects", { method: "PROPFIND" })).status).toBe(403);
    const mine = async () => (await auditOf(h.deps, "impersonation.event", user.id)).filter((e) => (e.after as { sessionId: string }).sessionId === sid);
    await waitFor(async () => (await mine()).length >= 3, 10_000);
    const after = (await mine()).map((e) => e.after as { method: string; route: string });
    expect(after.map((a) => a.method).sort()).toEqual(["GET", "GET", "PROPFIND"]);
    const long = after.find((a) => a.route.startsWith("GET /projects/x"))!;
    expect(long.route.length).toBeLessThanOrEqual(300);
    expect(long.route.endsWith("…")).toBe(true);
  });

  it("the product session is only good with the kit's cookie: deleting it signs the browser out instead of lifting the guard", async () => {
    const { browser } = await openSession("support_full", 32);
    expect((await browser.go("/projects")).status).toBe(200);
    browser.cookies.delete("steward_imp");
    expect((await browser.go("/projects")).status).toBe(401);
    expect((await browser.go("/settings/password", { method: "POST" })).status).toBe(401);
    expect(await (await browser.go("/billing")).text()).not.toContain("Card:");
  });

  it("revocation on Steward reaches the product within 5 s; the agent then sees the ended page", async () => {
    const { browser, sid, user } = await openSession("support_full", 31);
    expect((await browser.go("/projects")).status).toBe(200);
    const version = (await h.deps.database.db.selectFrom("users").select("version").where("id", "=", user.id).executeTakeFirstOrThrow()).version;
    const revokedAt = Date.now();
    const revoked = await request(h.app)
      .post("/api/actions/impersonation.stop")
      .set("Authorization", `Bearer ${await sessionOf(h, "operations")}`)
      .send({ ticketId: await raisedBy(h.deps, { type: "user", id: user.id }, "1002"), reason: "Revoking this session", target: { type: "user", id: user.id }, expectedVersion: version, input: { sessionId: sid } });
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    let endedResponse: Response | null = null;
    await waitFor(async () => {
      const r = await browser.go("/projects");
      if (r.status === 303) endedResponse = r;
      return r.status === 303;
    }, 5_000);
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    // Revoked by operations: the ended page says so (the reason Steward's status gives).
    expect(endedResponse!.headers.get("location")).toBe("/steward/ended?reason=admin_revoked");
    const ended = await browser.go("/steward/ended?reason=admin_revoked");
    const text = await ended.text();
    expect(text).toContain("Support session ended");
    expect(text).toContain("Operations or an admin revoked it.");
    // The product session is gone: the customer's pages need a sign-in again.
    expect((await browser.go("/projects")).status).toBe(401);
  });
});
