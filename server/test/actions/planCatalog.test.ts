import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { activatePlanCatalog, DEFAULT_PLAN_CATALOG, priceLookupKey, planFromLookupKey, unitPriceCents } from "../../src/providers/planCatalog.js";
import { databaseKinds } from "../support/databases.js";
import { act, auditCount, confirmAndAct, preview, sessionOf, useHarness } from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "steward-plans-"));
function catalogFile(name: string, content: string): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}
const configError = (env: Record<string, string>) => {
  try {
    loadConfig({ LOG_LEVEL: "silent", ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.line;
    throw err;
  }
  return null;
};

/** The custom catalog of these tests: the demo account stays on business; "scale" exists only here. */
const CUSTOM = {
  business: { monthlyCents: 4_900 },
  scale: { monthlyCents: 12_000, yearlyCents: 100_000, stripeLookupKeys: { month: "scale-monthly-2026" } },
};

describe("plan catalog as configuration", () => {
  it("is the demo plans without PLAN_CATALOG_FILE", () => {
    expect(loadConfig({ LOG_LEVEL: "silent" }).planCatalog).toEqual(DEFAULT_PLAN_CATALOG);
  });

  it("is read from PLAN_CATALOG_FILE and validated at start with a line naming the variable and the bad path", () => {
    expect(loadConfig({ LOG_LEVEL: "silent", PLAN_CATALOG_FILE: catalogFile("ok.json", JSON.stringify(CUSTOM)) }).planCatalog).toEqual(CUSTOM);
    expect(configError({ PLAN_CATALOG_FILE: join(dir, "missing.json") })).toMatch(/^Steward cannot start: invalid configuration: PLAN_CATALOG_FILE: cannot read .*missing\.json/);
    expect(configError({ PLAN_CATALOG_FILE: catalogFile("bad.json", "{not json") })).toContain("PLAN_CATALOG_FILE: cannot read");
    expect(configError({ PLAN_CATALOG_FILE: catalogFile("neg.json", JSON.stringify({ team: { monthlyCents: -5 } })) })).toContain("team.monthlyCents: expected a positive amount");
    expect(configError({ PLAN_CATALOG_FILE: catalogFile("name.json", JSON.stringify({ "Team Plan": { monthlyCents: 100 } })) })).toContain("PLAN_CATALOG_FILE");
    expect(configError({ PLAN_CATALOG_FILE: catalogFile("extra.json", JSON.stringify({ team: { monthlyCents: 100, price: 3 } })) })).toContain("PLAN_CATALOG_FILE");
    expect(configError({ PLAN_CATALOG_FILE: catalogFile("empty.json", "{}") })).toContain("expected at least one plan");
  });

  it("prices yearly plans from the file (default ten months) and maps Stripe lookup keys both ways", () => {
    activatePlanCatalog(CUSTOM);
    try {
      expect(unitPriceCents("scale", "year")).toBe(100_000);
      expect(unitPriceCents("business", "year")).toBe(49_000);
      expect(priceLookupKey("scale", "month")).toBe("scale-monthly-2026");
      expect(priceLookupKey("scale", "year")).toBe("scale_year");
      expect(planFromLookupKey("scale-monthly-2026")).toBe("scale");
      expect(planFromLookupKey("business_month")).toBe("business");
    } finally {
      activatePlanCatalog(DEFAULT_PLAN_CATALOG);
    }
  });
});

describe.each(databaseKinds)("plan changes follow the configured catalog on %s", (kind) => {
  const h = useHarness(kind);
  beforeAll(() => activatePlanCatalog(CUSTOM));
  afterAll(() => activatePlanCatalog(DEFAULT_PLAN_CATALOG));
  const target = { type: "account" as const, id: "acc_demo_001" };

  it("offers the catalog's plans to the sidebar with the session", async () => {
    const res = await request(h.app).get("/api/session").set("Authorization", `Bearer ${await sessionOf(h, "operations")}`).expect(200);
    expect(res.body.plans).toEqual(["business", "scale"]);
  });

  it("refuses a plan outside the catalog with 400 naming the field, writing nothing (not even an audit entry)", async () => {
    const before = await auditCount(h.deps);
    for (const call of [() => preview(h, "operations", "billing.plan_change", { target, input: { plan: "starter" } }), () => act(h, "operations", "billing.plan_change", { target, input: { plan: "starter" } })]) {
      const res = await call();
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "plan", reason: expect.stringContaining("business, scale") })]);
    }
    expect(await auditCount(h.deps)).toBe(before);
  });

  it("moves the subscription to a plan that exists only in the file, priced from it", async () => {
    const res = await confirmAndAct(h, "operations", "billing.plan_change", { target, input: { plan: "scale" } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const sub = await h.deps.database.db
      .selectFrom("billing_subscriptions as s")
      .innerJoin("billing_customers as c", "c.id", "s.customer_id")
      .select(["s.plan", "s.unit_amount_cents"])
      .where("c.account_id", "=", target.id)
      .executeTakeFirstOrThrow();
    expect(sub).toEqual({ plan: "scale", unit_amount_cents: 12_000 });
  });
});
