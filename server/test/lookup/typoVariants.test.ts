import { describe, expect, it } from "vitest";
import { queryWords } from "../../src/lookup/searchBranches.js";
import { decodeSearchCursor, encodeSearchCursor } from "../../src/lookup/searchCursor.js";
import { typoVariants } from "../../src/lookup/typoVariants.js";

describe("typoVariants", () => {
  it("swaps neighbours: jhon → john", () => {
    expect(typoVariants("jhon")).toEqual(expect.arrayContaining(["john", "hjon", "jhno"]));
    expect(typoVariants("jhon")).not.toContain("jhon");
  });
  it("drops one letter from longer words only", () => {
    expect(typoVariants("johhn")).toContain("john");
    expect(typoVariants("jonh").every((v) => v.length === 4)).toBe(true);
  });
  it("skips words too short or too long to be worth probing", () => {
    expect(typoVariants("jo")).toEqual([]);
    expect(typoVariants("x".repeat(25))).toEqual([]);
  });
  it("keeps accented letters whole", () => {
    expect(typoVariants("zoë")).toEqual(expect.arrayContaining(["ozë", "zëo"]));
  });
});

describe("search helpers", () => {
  it("splits a query into words the way steward_words splits names", () => {
    expect(queryWords("zoe  muller-smith")).toEqual(["zoe", "muller", "smith"]);
    expect(queryWords("a b c d e f")).toHaveLength(4);
  });
  it("round-trips a cursor and refuses anything else", () => {
    const position = { score: "2.4735", kind: "user" as const, id: "usr_1", exactOnly: false };
    expect(decodeSearchCursor(encodeSearchCursor(position))).toEqual(position);
    for (const bad of ["", "not-base64-json", Buffer.from('["x","user","id",0]').toString("base64url"), Buffer.from('["1","group","id",0]').toString("base64url")]) {
      expect(() => decodeSearchCursor(bad), bad).toThrow(expect.objectContaining({ status: 400 }));
    }
  });
});
