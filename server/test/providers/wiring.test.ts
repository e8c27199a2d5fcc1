import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import type { DatabaseKind } from "../../src/db/database.js";
import type { AppDeps } from "../../src/deps.js";
import { createLogger } from "../../src/logger.js";
import { Auth0Identity } from "../../src/providers/auth0/auth0Identity.js";
import { StripeBilling } from "../../src/providers/stripe/stripeBilling.js";
import { buildDeps } from "../../src/server.js";
import { Auth0Fake } from "../fakes/auth0Fake.js";
import { StripeFake } from "../fakes/stripeFake.js";
import { createTestDatabase, databaseKinds, testConfig } from "../support/databases.js";
import { seedAuth0Users } from "./auth0Seed.js";
import { seedStripe } from "./stripeSeed.js";

/** buildDeps picks each adapter from IDENTITY_PROVIDER / BILLING_PROVIDER and the settings beside them. */
describe.each(databaseKinds)("provider wiring in buildDeps (%s)", (kind: DatabaseKind) => {
  const auth0 = new Auth0Fake();
  const stripe = new StripeFake();
  let deps: AppDeps;

  beforeAll(async () => {
    await Promise.all([auth0.start(), stripe.start()]);
    seedAuth0Users(auth0);
    seedStripe(stripe);
    deps = await buildDeps(testConfig({ ...auth0.env(), ...stripe.env() }), { database: await createTestDatabase(kind), logger: createLogger("silent"), clock: new ManualClock() });
  }, 180_000);
  afterAll(async () => {
    await deps.database.close();
    await Promise.all([auth0.close(), stripe.close()]);
  });

  it("uses Auth0 and Stripe when configured, reaching them at the configured base URLs", async () => {
    expect(deps.identity).toBeInstanceOf(Auth0Identity);
    expect(deps.billing).toBeInstanceOf(StripeBilling);
    expect((await deps.identity.getIdentity({ id: "usr_1", idpId: "auth0|blocked", email: "bea.blocked@acme.example" })).blocked).toBe(true);
    expect((await deps.billing.getBilling({ id: "acc_1", billingCustomerId: "cus_past_due" }))?.dunning?.failedAttempts).toBe(3);
    expect(auth0.requests.length).toBeGreaterThan(0);
    expect(stripe.requests.length).toBeGreaterThan(0);
  });

  it("uses the built-in tables by default", async () => {
    const builtin = await buildDeps(testConfig(), { database: deps.database, logger: createLogger("silent") });
    expect([builtin.identity.name, builtin.billing.name]).toEqual(["builtin", "builtin"]);
  });
});
