import request from "supertest";
import { describe, expect, it } from "vitest";
import { reconcileOnce } from "../../src/reconcile/reconciler.js";
import { sessionOf, useHarness, type Harness } from "../actions/harness.js";
import { databaseKinds } from "../support/databases.js";
import { ticketFor } from "../support/tickets.js";

/**
 * An approval whose run's provider outcome was lost is recorded approved with the unknown outcome; once
 * the reconciler settles the operation, the approval follows it: failed when the credit never happened,
 * approved with the final outcome when it did.
 */
const ACCOUNT = "acc_demo_011";
const creditWrite = { method: "POST", path: "/v1/customers/cus_demo_011/balance_transactions" };

async function askAndApprove(h: Harness, amountCents: number) {
  const ticketId = await ticketFor(h.deps, { type: "account", id: ACCOUNT });
  const asked = await request(h.app)
    .post("/api/approvals")
    .set("Authorization", `Bearer ${await sessionOf(h, "support_full")}`)
    .send({ reason: "Customer was double charged last month", action: "billing.credit_apply", targetType: "account", targetId: ACCOUNT, input: { amountCents }, ticketId });
  expect(asked.status, JSON.stringify(asked.body)).toBe(201);
  const id = asked.body.approval.id as string;
  const approved = await request(h.app).post(`/api/approvals/${id}/approve`).set("Authorization", `Bearer ${await sessionOf(h, "operations")}`).set("Idempotency-Key", `click-${id}`).send({});
  return { id, approved };
}

async function reconcilePass(h: Harness) {
  await h.deps.database.db.updateTable("provider_operations").set({ next_attempt_at: new Date(0) }).where("status", "=", "unknown").execute();
  return reconcileOnce(h.deps, "test-reconciler");
}

const approvalRow = (h: Harness, id: string) => h.deps.database.db.selectFrom("approval_requests").select(["status", "result"]).where("id", "=", id).executeTakeFirstOrThrow();

describe.each(databaseKinds)("an approval whose run ended unknown (%s)", (kind) => {
  const h = useHarness(kind, { stripe: true, env: { PROVIDER_TIMEOUT_MS: "4000" } });

  it("becomes failed when the reconciler finds the credit was never made", async () => {
    h.stripe!.failNext(5, 502, creditWrite);
    const { id, approved } = await askAndApprove(h, 7_303);
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.approval.status).toBe("approved");
    const operationId = approved.body.result.problem.operationId as string;
    expect(approved.body.result.problem.code).toBe("outcome_unknown");
    h.stripe!.clearFaults();
    // The retry is refused for good and the re-read finds no credit: the operation closes failed.
    h.stripe!.failNext(1, 400, creditWrite);
    expect(await reconcilePass(h)).toMatchObject({ failed: 1 });
    expect(await approvalRow(h, id)).toEqual({ status: "failed", result: expect.objectContaining({ operationId, outcome: "failed" }) });
    const listed = await request(h.app).get("/api/approvals").query({ status: "failed" }).set("Authorization", `Bearer ${await sessionOf(h, "support_full")}`);
    expect(listed.body.approvals.map((a: { id: string }) => a.id)).toContain(id);
  });

  it("stays approved, with the final outcome, when the reconciler completes the credit", async () => {
    h.stripe!.failNext(5, 502, creditWrite);
    const { id, approved } = await askAndApprove(h, 7_404);
    const operationId = approved.body.result.problem.operationId as string;
    h.stripe!.clearFaults();
    expect(await reconcilePass(h)).toMatchObject({ succeeded: 1 });
    expect(await approvalRow(h, id)).toEqual({ status: "approved", result: expect.objectContaining({ operationId, outcome: "succeeded" }) });
  });
});
