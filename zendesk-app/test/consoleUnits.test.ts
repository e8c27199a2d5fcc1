import { describe, expect, it } from "vitest";
import { actionNames } from "../../shared/actions.js";
import { actionGroupOf, flagRules } from "../../shared/flags.js";
import { formatInZone, utcToZoned, zonedToUtc } from "../src/console/time.js";
import de from "../src/console/translations/de.json";
import en from "../src/console/translations/en.json";

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("console translations", () => {
  it("has the same keys and placeholders in de as in en, and every flag explained in both", () => {
    expect(Object.keys(de).sort()).toEqual(Object.keys(en).sort());
    for (const [key, text] of Object.entries(en)) expect(placeholders((de as Record<string, string>)[key] ?? ""), key).toEqual(placeholders(text));
    for (const rule of flagRules) {
      expect(rule.explain.en.length, rule.id).toBeGreaterThan(10);
      expect(rule.explain.de.length, rule.id).toBeGreaterThan(10);
      expect(rule.explain.de).not.toBe(rule.explain.en);
    }
  });

  it("names every action group in both languages (the overview chart and the explorer's group filter show them)", () => {
    for (const group of new Set(actionNames.map(actionGroupOf))) {
      expect(en, group).toHaveProperty([`group.${group}`]);
      expect(de, group).toHaveProperty([`group.${group}`]);
    }
  });
});

describe("times in the agent's zone, stored in UTC", () => {
  it("reads a wall time in the agent's zone as the right UTC instant, across daylight saving", () => {
    expect(zonedToUtc("2026-01-14T11:00", "America/New_York")).toBe("2026-01-14T16:00:00.000Z");
    expect(zonedToUtc("2026-07-14T11:00", "America/New_York")).toBe("2026-07-14T15:00:00.000Z");
    expect(zonedToUtc("2026-03-29T03:30", "Europe/Berlin")).toBe("2026-03-29T01:30:00.000Z"); // the first hour of summer time
    expect(zonedToUtc("2026-03-28T23:30", "Asia/Kolkata")).toBe("2026-03-28T18:00:00.000Z");
    expect(zonedToUtc("2026-01-14T11:00", "UTC")).toBe("2026-01-14T11:00:00.000Z");
    expect(zonedToUtc("", "UTC")).toBeNull();
    expect(zonedToUtc("14.01.2026 11:00", "UTC")).toBeNull();
  });

  it("reads a wall time next to a daylight-saving change alike in every zone: the first of two, the hour after a gap", () => {
    // Clocks go back: 02:30 happens twice in Berlin, 01:30 in New York; both mean the first (summer-time) one.
    expect(zonedToUtc("2026-10-25T02:30", "Europe/Berlin")).toBe("2026-10-25T00:30:00.000Z");
    expect(zonedToUtc("2026-11-01T01:30", "America/New_York")).toBe("2026-11-01T05:30:00.000Z");
    expect(zonedToUtc("2026-10-25T01:30", "Europe/London")).toBe("2026-10-25T00:30:00.000Z");
    expect(zonedToUtc("2026-04-05T02:30", "Australia/Sydney")).toBe("2026-04-04T15:30:00.000Z");
    // Clocks go forward: 02:30 does not happen; it reads as 03:30 summer time in the west as in the east.
    expect(zonedToUtc("2026-03-08T02:30", "America/New_York")).toBe("2026-03-08T07:30:00.000Z");
    expect(zonedToUtc("2026-03-29T02:30", "Europe/Berlin")).toBe("2026-03-29T01:30:00.000Z");
    expect(zonedToUtc("2026-10-04T02:30", "Australia/Sydney")).toBe("2026-10-03T16:30:00.000Z");
    // Shown again in the zone, each reads as entered (the gap's as the hour after it).
    for (const [local, zone] of [["2026-03-08T02:30", "America/New_York"], ["2026-11-01T01:30", "America/New_York"], ["2026-10-25T02:30", "Europe/Berlin"]] as const) {
      expect(utcToZoned(zonedToUtc(local, zone) ?? "", zone), `${zone} ${local}`).toBe(local === "2026-03-08T02:30" ? "2026-03-08T03:30" : local);
    }
  });

  it("shows a UTC instant as the agent's wall time, and back again", () => {
    for (const zone of ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "Pacific/Chatham"]) {
      for (const iso of ["2026-01-14T16:00:00.000Z", "2026-07-01T23:45:00.000Z"]) expect(zonedToUtc(utcToZoned(iso, zone), zone), `${zone} ${iso}`).toBe(iso);
    }
    expect(utcToZoned("2026-01-14T16:00:00.000Z", "America/New_York")).toBe("2026-01-14T11:00");
    expect(formatInZone("2026-01-14T16:00:00.000Z", "en-US", "Europe/Berlin")).toContain("5:00:00 PM");
    // The hour clocks go back in repeats: its two 02:30s are told apart by the zone's abbreviation.
    const [summer, winter] = ["2026-10-25T00:30:00.000Z", "2026-10-25T01:30:00.000Z"].map((iso) => formatInZone(iso, "de", "Europe/Berlin"));
    expect(summer).toContain("02:30:00 MESZ");
    expect(winter).toContain("02:30:00 MEZ");
  });
});
