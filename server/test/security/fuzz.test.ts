import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseKinds } from "../support/databases.js";
import { fuzz, startFuzzTarget, type FuzzTarget } from "../support/fuzz.js";

/**
 * Every operation in /api/openapi.json, as every role, with valid-shaped and hostile input, on each
 * database: no 5xx, 4xx as problem+json naming the field, and a 4xx changes nothing. A bounded run
 * (fixed seed, so a failure repeats); `npm run fuzz -- --runs N` runs longer with any seed.
 */
const RUNS_PER_OPERATION = Number(process.env.STEWARD_FUZZ_RUNS ?? 8);

describe.each(databaseKinds)("fuzzing the API on %s", (kind) => {
  let target: FuzzTarget;
  beforeAll(async () => {
    target = await startFuzzTarget(kind);
  }, 180_000);
  afterAll(() => target?.close());

  it("finds every operation of the OpenAPI document, the hostile ones included", () => {
    const names = target.operations.map((o) => `${o.method} ${o.path}`);
    expect(names).toContain("post /api/actions/billing.credit_apply");
    expect(names).toContain("patch /api/staff/{staffId}");
    expect(names).toContain("get /api/audit/export");
    expect(target.operations.length).toBeGreaterThan(50);
  });

  it("a request line over 16 KiB gets 431 problem+json, not Node's bare status line", async () => {
    const res = await fetch(`${target.baseUrl}/api/search?q=${"a".repeat(20_000)}`);
    expect(res.status).toBe(431);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await res.json()).toMatchObject({ status: 431, code: "headers_too_large" });
  });

  it("answers no request with a 5xx; every 4xx is problem+json and changes nothing", async () => {
    const result = await fuzz(target, { runsPerOperation: RUNS_PER_OPERATION, seed: 20261126 });
    expect(result.requests).toBe(target.operations.length * RUNS_PER_OPERATION);
    // The generators must reach past validation and authorisation, or the run proves little.
    expect(result.byStatus[200]).toBeGreaterThan(20);
    expect(result.byStatus[400]).toBeGreaterThan(20);
    expect(result.byStatus[403]).toBeGreaterThan(5);
    expect(result.failures).toEqual([]);
    // The server ran in this process: no `__proto__`/`constructor` key it was sent reached Object.prototype.
    expect(Object.prototype).not.toHaveProperty("isAdmin");
    expect(Object.prototype).not.toHaveProperty("polluted");
  }, 360_000);
});
