import express from "express";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { notFoundHandler, problemMiddleware } from "../../src/http/problem.js";
import { ProviderCaller, parseRetryAfter, type CallPolicy } from "../../src/providers/providerCall.js";
import { ProviderError } from "../../src/providers/providerError.js";

const transient = (retryAfterMs?: number) => new ProviderError({ provider: "stripe", code: "unavailable", status: 503, message: "down", retryAfterMs });
const classify = (err: unknown, operation: string) =>
  err instanceof ProviderError ? err : new ProviderError({ provider: "stripe", code: "unavailable", operation, message: String(err), retryable: false });

function caller(policy: Partial<CallPolicy> = {}, waits: number[] = []) {
  return new ProviderCaller("stripe", { timeoutMs: 200, maxRetries: 2, baseDelayMs: 100, maxDelayMs: 2_000, ...policy }, classify, {
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0.5,
  });
}

describe("ProviderCaller", () => {
  it("retries transient failures up to maxRetries, then throws the last ProviderError", async () => {
    const waits: number[] = [];
    let attempts = 0;
    const error = await caller({}, waits)
      .call("customers.retrieve", async () => {
        attempts++;
        throw transient();
      })
      .catch((e: unknown) => e);
    expect(attempts).toBe(3);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).code).toBe("unavailable");
    // Full jitter over an exponential ceiling: 0.5 × 100, 0.5 × 200.
    expect(waits).toEqual([50, 100]);
  });

  it("a write whose first attempt may have applied (5xx) stays unknown when a retry is then refused definitely; a read does not", async () => {
    const refused = new ProviderError({ provider: "stripe", code: "rejected", status: 400, message: "already canceled", retryable: false });
    const run = (write: boolean) => {
      let attempts = 0;
      return caller()
        .call(
          "subscriptions.cancel",
          async () => {
            if (attempts++ === 0) throw transient();
            throw refused;
          },
          { write },
        )
        .catch((e: unknown) => e as ProviderError);
    };
    const asWrite = await run(true);
    expect([asWrite.effectUnknown, asWrite.partlyApplied, asWrite.status]).toEqual([true, true, 400]);
    expect(asWrite.message).toContain("after an earlier attempt whose outcome is not known");
    const asRead = await run(false);
    expect([asRead.effectUnknown, asRead.code]).toEqual([false, "rejected"]);
  });

  it("returns the first success after failures", async () => {
    let attempts = 0;
    const value = await caller().call("customers.retrieve", async () => {
      attempts++;
      if (attempts < 3) throw transient();
      return "ok";
    });
    expect(value).toBe("ok");
    expect(attempts).toBe(3);
  });

  it("waits at least Retry-After, and gives up at once when Retry-After exceeds maxDelayMs", async () => {
    const waits: number[] = [];
    let attempts = 0;
    await caller({}, waits).call("x", async () => {
      if (attempts++ === 0) throw transient(1_000);
      return 1;
    });
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(1_000);
    expect(waits[0]).toBeLessThan(1_100);

    let tries = 0;
    const error = (await caller({ maxDelayMs: 500 }).call("x", async () => {
      tries++;
      throw new ProviderError({ provider: "stripe", code: "rate_limited", status: 429, message: "slow down", retryAfterMs: 60_000 });
    }).catch((e: unknown) => e)) as ProviderError;
    expect(tries).toBe(1);
    expect(error.code).toBe("rate_limited");
    expect(error.retryable).toBe(true);
  });

  it("does not retry failures that are not transient", async () => {
    let attempts = 0;
    const error = (await caller().call("x", async () => {
      attempts++;
      throw new ProviderError({ provider: "stripe", code: "rejected", status: 400, message: "bad" });
    }).catch((e: unknown) => e)) as ProviderError;
    expect(attempts).toBe(1);
    expect(error.code).toBe("rejected");
  });

  it("maps whatever the SDK throws through the provider's classifier", async () => {
    const error = (await caller().call("x", async () => {
      throw new TypeError("socket hang up");
    }).catch((e: unknown) => e)) as ProviderError;
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.operation).toBe("x");
    expect(error.message).toContain("socket hang up");
  });

  it("times out an attempt, aborts its signal, and does not retry it", async () => {
    let attempts = 0;
    let aborted = false;
    const started = Date.now();
    const error = (await caller({ timeoutMs: 100 }).call("slow", ({ signal }) => {
      attempts++;
      signal.addEventListener("abort", () => (aborted = true));
      return new Promise(() => {});
    }).catch((e: unknown) => e)) as ProviderError;
    expect(error.code).toBe("timeout");
    expect(error.provider).toBe("stripe");
    expect(attempts).toBe(1);
    expect(aborted).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("2")).toBe(2_000);
    expect(parseRetryAfter("0.5")).toBe(500);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 7_000)).toBe(3_000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
  });
});

describe("ProviderError as problem+json", () => {
  const app = express();
  app.get("/timeout", () => {
    throw new ProviderError({ provider: "auth0", code: "timeout", message: "users.get took longer than 5000 ms" });
  });
  app.get("/missing", () => {
    throw new ProviderError({ provider: "stripe", code: "not_found", status: 404, message: "No such customer: 'cus_x'" });
  });
  app.get("/limited", () => {
    throw new ProviderError({ provider: "stripe", code: "rate_limited", status: 429, message: "slow down", retryAfterMs: 1_500 });
  });
  app.use(notFoundHandler);
  app.use(problemMiddleware);

  it("maps each failure to a status and names the provider", async () => {
    const timeout = await request(app).get("/timeout");
    expect(timeout.status).toBe(504);
    expect(timeout.headers["content-type"]).toContain("application/problem+json");
    expect(JSON.parse(timeout.text)).toMatchObject({ status: 504, code: "provider_timeout", provider: "auth0", retryable: true, detail: "Auth0: users.get took longer than 5000 ms" });

    const missing = await request(app).get("/missing");
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text)).toMatchObject({ code: "provider_not_found", provider: "stripe", providerStatus: 404, retryable: false });

    const limited = await request(app).get("/limited");
    expect(limited.status).toBe(503);
    expect(JSON.parse(limited.text)).toMatchObject({ code: "provider_rate_limited", retryAfterSeconds: 2 });
  });

  it("gives the requester-context part error", () => {
    expect(new ProviderError({ provider: "auth0", code: "unavailable", message: "down" }).toPartError()).toEqual({ code: "unavailable", message: "down", provider: "auth0" });
  });
});
