import request from "supertest";
import { describe, expect, it } from "vitest";
import { expireApprovals } from "../../src/commands/approval/approvals.js";
import { sessionOf, useHarness, type Harness } from "../actions/harness.js";
import { databaseKinds } from "../support/databases.js";
import { ticketFor } from "../support/tickets.js";

/**
 * An approval's run holds a claim on the request; the 24 h sweep leaves claimed requests alone. A run
 * slower than the claim (a slow provider) near the 24 h end must keep it, and if the sweep expires the
 * request anyway the run's outcome is still recorded, never a 500 after the action ran. The claim here
 * lasts 300 ms (OPERATION_LEASE_MS) and the day passes on the injected clock.
 */
const ACCOUNT = "acc_demo_011";
const CUSTOMER = "cus_demo_011";
const creditWrite = { method: "POST", path: `/v1/customers/${CUSTOMER}/balance_transactions` };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ask(h: Harness, amountCents: number): Promise<string> {
  const ticketId = await ticketFor(h.deps, { type: "account", id: ACCOUNT });
  const res = await request(h.app)
    .post("/api/approvals")
    .set("Authorization", `Bearer ${await sessionOf(h, "support_full")}`)
    .send({ reason: "Customer was double charged last month", action: "billing.credit_apply", targetType: "account", targetId: ACCOUNT, input: { amountCents }, ticketId });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.approval.id as string;
}

/** Starts the approval now (supertest sends on `then`). */
async function approving(h: Harness, id: string) {
  const auth = `Bearer ${await sessionOf(h, "operations")}`;
  return request(h.app).post(`/api/approvals/${id}/approve`).set("Authorization", auth).set("Idempotency-Key", `click-${id}`).send({}).then((r) => r);
}

const creditsAtStripe = (h: Harness, amountCents: number) => h.stripe!.requestsTo(creditWrite.method, creditWrite.path).filter((r) => (r.body as { amount?: string | number }).amount == -amountCents && !r.replayed).length;

describe.each(databaseKinds)("an approval's run outlasting its claim (%s)", (kind) => {
  const h = useHarness(kind, { stripe: true, env: { OPERATION_LEASE_MS: "300", PROVIDER_TIMEOUT_MS: "8000" } });

  it("the claim is renewed while the run works: the sweep at the 24 h end leaves it, and the approval records the run", async () => {
    const id = await ask(h, 7_101);
    h.stripe!.delayNext(1_500, 1, creditWrite);
    const run = approving(h, id);
    await sleep(800);
    // Past the 24 h end while the credit is still on its way to Stripe; without renewal the 300 ms claim has lapsed by now.
    h.deps.clock.advance(24 * 3_600_000 + 1);
    expect(await expireApprovals(h.deps)).toBe(0);
    const res = await run;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.approval.status).toBe("approved");
    expect(creditsAtStripe(h, 7_101)).toBe(1);
  });

  it("expired by the sweep mid-run anyway (the claim lost): the run's outcome is still recorded, not a 500", async () => {
    const id = await ask(h, 7_202);
    h.stripe!.delayNext(1_500, 1, creditWrite);
    const run = approving(h, id);
    await sleep(500);
    // The process stalled and its claim lapsed: the sweep finds the request unclaimed and past its end.
    await h.deps.database.db.updateTable("approval_requests").set({ claimed_by: null, claimed_until: null }).where("id", "=", id).execute();
    h.deps.clock.advance(24 * 3_600_000 + 1);
    expect(await expireApprovals(h.deps)).toBe(1);
    const res = await run;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.approval.status).toBe("approved");
    expect(res.body.result).toMatchObject({ outcome: "succeeded" });
    expect(creditsAtStripe(h, 7_202)).toBe(1);
    const row = await h.deps.database.db.selectFrom("approval_requests").select(["status", "decided_by_staff_id"]).where("id", "=", id).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: "approved", decided_by_staff_id: "stf_demo_ops" });
  });
});
