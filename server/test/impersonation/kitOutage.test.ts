import type { AddressInfo } from "node:net";
import express from "express";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { COOKIE, ImpersonationKit, impersonationRouter } from "../../../kit/src/index.js";
import { useHarness } from "../actions/harness.js";
import { databaseKinds } from "../support/databases.js";
import { addProduct, endAllSessions, openedSession, startLinkedApp, STEWARD_UNAVAILABLE, stop, type TestProduct } from "./support.js";

/**
 * The real kit, in a product behind its Express adapter, against the real app while the link between them is
 * cut: a session Steward has not confirmed within `confirmWithinMs` may not act (a revocation made meanwhile
 * would not be seen), is not ended for it, and ends once the link is back and the revocation is seen.
 */
const POLL_MS = 100;
const CONFIRM_WITHIN_MS = 800;

describe.each(databaseKinds)("the kit while Steward is out of reach on %s", (kind) => {
  let product: TestProduct;
  const h = useHarness(kind, {
    arrange: async (harness) => {
      product = await addProduct(harness);
    },
  });
  beforeEach(() => endAllSessions(h));

  let linkUrl = "";
  let closeLink = () => {};
  /** The link between product and Steward: passes, or is down (503 without passing on). */
  let down = false;
  beforeAll(async () => {
    const linked = await startLinkedApp(h, async (_req, forward) => (down ? STEWARD_UNAVAILABLE : forward()));
    linkUrl = linked.url;
    closeLink = linked.close;
  });
  afterAll(() => closeLink());
  beforeEach(() => {
    down = false;
  });

  /** A product process: the kit's adapter in front of a customer page; `ended` lists the product sessions it was told to end. */
  async function productOn(url: string) {
    const kit = new ImpersonationKit({ stewardUrl: url, credential: product.credential, pollMs: POLL_MS, confirmWithinMs: CONFIRM_WITHIN_MS, events: { flushIntervalMs: 60_000 }, onError: () => undefined });
    const ended: string[] = [];
    const app = express();
    app.use(impersonationRouter(kit, { startSession: () => undefined, endSession: (req) => void ended.push(req.impersonation?.sid ?? "unknown") }));
    app.get("/projects", (req, res) => (req.impersonation ? res.json({ projects: [], as: req.impersonation.userId }) : res.status(401).json({ error: "sign_in" })));
    const server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      kit,
      ended,
      get: (sid: string) => fetch(`${base}/projects`, { headers: { accept: "application/json", cookie: `${COOKIE}=${encodeURIComponent(kit.seal(sid))}` } }),
      async close() {
        server.close();
        await kit.close();
      },
    };
  }

  /** Asks every 25 ms until the answer's status is not `while`; the answer and when it came. */
  async function until(ask: () => Promise<Response>, whileStatus: number, timeoutMs: number): Promise<{ res: Response; at: number }> {
    const giveUp = Date.now() + timeoutMs;
    for (;;) {
      const res = await ask();
      if (res.status !== whileStatus || Date.now() > giveUp) return { res, at: Date.now() };
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it("revoked while the link is cut: the agent's requests are refused within confirmWithinMs, the session is not ended until the link is back and the revocation is seen", async () => {
    const { sid, user } = await openedSession(h, product, 10, "1005");
    const shop = await productOn(linkUrl);
    try {
      expect((await shop.get(sid)).status).toBe(200);
      // Let the poller confirm the session at least once more through the link.
      await new Promise((r) => setTimeout(r, 3 * POLL_MS));
      down = true;
      const cutAt = Date.now();
      // Revoked meanwhile; the requests go on as it is being recorded (its own time is not the kit's).
      const revoked = stop(h, "operations", user.id, sid);
      const refused = await until(() => shop.get(sid), 200, 5000);
      expect((await revoked).status).toBe(200);
      expect(refused.res.status).toBe(503);
      expect(await refused.res.json()).toMatchObject({ error: "impersonation_unconfirmed", message: expect.stringContaining("Steward cannot be reached") });
      // The last confirmation was sent before the cut: refused no later than the bound after it (plus a request's time).
      expect(refused.at - cutAt).toBeLessThanOrEqual(CONFIRM_WITHIN_MS + 700);
      // Not ended for being out of reach: the product session and the kit's cookie stay.
      await new Promise((r) => setTimeout(r, 3 * POLL_MS));
      const still = await shop.get(sid);
      expect(still.status).toBe(503);
      expect(still.headers.getSetCookie()).toEqual([]);
      expect(shop.ended).toEqual([]);

      // The link is back: the next check sees the revocation and the session ends in the product.
      down = false;
      const after = await until(() => shop.get(sid), 503, 3000);
      expect(after.res.status).toBe(401);
      expect(await after.res.json()).toMatchObject({ error: "impersonation_ended" });
      expect(shop.ended).toHaveLength(1);
      const session = await h.deps.database.db.selectFrom("impersonation_sessions").select("end_reason").where("id", "=", sid).executeTakeFirstOrThrow();
      expect(session.end_reason).toBe("admin_revoked");
    } finally {
      await shop.close();
    }
  });

  it("the link cut without a revocation: refused meanwhile, then the same session carries on once Steward confirms it", async () => {
    const { sid } = await openedSession(h, product, 11, "1005");
    const shop = await productOn(linkUrl);
    try {
      expect((await shop.get(sid)).status).toBe(200);
      down = true;
      expect((await until(() => shop.get(sid), 200, 5000)).res.status).toBe(503);
      down = false;
      const resumed = await until(() => shop.get(sid), 503, 3000);
      expect(resumed.res.status).toBe(200);
      expect(shop.ended).toEqual([]);
    } finally {
      await shop.close();
    }
  });
});
