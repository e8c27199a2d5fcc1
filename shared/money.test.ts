import { describe, expect, it } from "vitest";
import { fromMinorUnits, minorUnitsPerUnit } from "./money.js";

/** Minor units as Stripe counts them: hundredths, whole units for its zero-decimal currencies, thousandths for its three-decimal ones. */
describe("minor units", () => {
  it("says how many minor units make one unit, whatever the code's case", () => {
    expect([minorUnitsPerUnit("usd"), minorUnitsPerUnit("EUR"), minorUnitsPerUnit("jpy"), minorUnitsPerUnit("KRW"), minorUnitsPerUnit("kwd")]).toEqual([100, 100, 1, 1, 1_000]);
    expect([fromMinorUnits(1_250, "usd"), fromMinorUnits(5_000, "jpy"), fromMinorUnits(1_234, "bhd")]).toEqual([12.5, 5_000, 1.234]);
  });
});
