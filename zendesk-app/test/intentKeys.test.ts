import { describe, expect, it } from "vitest";
import { IntentKeys, settlesIntent, type ActionRequestBody } from "../src/actions/runAction";

/** The sidebar keeps one Idempotency-Key per submitted form until a definite answer, so a retry never acts twice. */
const form = (amountCents: number, confirmationToken?: string): ActionRequestBody =>
  ({ ticketId: "1006", reason: "Goodwill", target: { type: "account", id: "acc_1" }, expectedVersion: 3, input: { amountCents }, ...(confirmationToken ? { confirmationToken } : {}) }) as ActionRequestBody;

describe("one key per submitted form", () => {
  it("keeps the key across retries of the same request (a new preview token included) until it is settled", () => {
    const keys = new IntentKeys();
    const first = keys.keyFor(form(1000, "tok-a"));
    expect(keys.keyFor(form(1000, "tok-b"))).toBe(first);
    expect(keys.keyFor(form(1000))).toBe(first);
    keys.settle();
    expect(keys.keyFor(form(1000))).not.toBe(first);
  });

  it("gives a changed request a new key", () => {
    const keys = new IntentKeys();
    const first = keys.keyFor(form(1000));
    expect(keys.keyFor(form(2000))).not.toBe(first);
  });

  it("settles only on a definite answer", () => {
    for (const [status, code] of [[0, "network_error"], [202, "outcome_unknown"], [409, "request_in_progress"], [409, "target_busy"], [409, "outcome_pending"], [429, undefined], [502, "provider_unavailable"], [504, "provider_timeout"]] as const) {
      expect(settlesIntent(status, code), `${status} ${code}`).toBe(false);
    }
    for (const [status, code] of [[400, "invalid_request"], [403, "forbidden"], [409, "stale_version"], [409, "invalid_transition"], [422, "idempotency_key_reused"], [428, "confirmation_required"]] as const) {
      expect(settlesIntent(status, code), `${status} ${code}`).toBe(true);
    }
  });
});
