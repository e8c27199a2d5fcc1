import { describe, expect, it } from "vitest";
import { formatMoney, fromMinorUnits, minorUnitsPerUnit } from "./money.js";

/** Minor units as Stripe counts them: hundredths, whole units for its zero-decimal currencies, thousandths for its three-decimal ones. */
describe("minor units", () => {
  it("says how many minor units make one unit, whatever the code's case", () => {
    expect([minorUnitsPerUnit("usd"), minorUnitsPerUnit("EUR"), minorUnitsPerUnit("jpy"), minorUnitsPerUnit("KRW"), minorUnitsPerUnit("kwd")]).toEqual([100, 100, 1, 1, 1_000]);
    expect([fromMinorUnits(1_250, "usd"), fromMinorUnits(5_000, "jpy"), fromMinorUnits(1_234, "bhd")]).toEqual([12.5, 5_000, 1.234]);
  });
});

describe("money worded for people", () => {
  it("in the currency's own units and the reader's locale (the sidebar's and the server's words alike)", () => {
    expect(formatMoney(5_000, "jpy", "en-US")).toBe("¥5,000");
    expect(formatMoney(1_250, "usd", "en-US")).toBe("$12.50");
    expect(formatMoney(12_345, "kwd", "en-US")).toBe("KWD\u00a012.345");
    expect(formatMoney(1_250, "eur", "de-DE")).toBe("12,50\u00a0€");
    // A code Intl refuses: the amount with the currency's decimals and its code.
    expect(formatMoney(1_250, "u$d", "en-US")).toBe("12.50 U$D");
    expect(formatMoney(1_250_000, "jpy", "ja-JP")).toBe("￥1,250,000");
  });
});
