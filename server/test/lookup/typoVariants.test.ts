import { describe, expect, it } from "vitest";
import { queryWords } from "../../src/lookup/searchBranches.js";
import { assertCursorOf, decodeSearchCursor, encodeSearchCursor, searchTag } from "../../src/lookup/searchCursor.js";
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
    const position = { score: "2.4735", kind: "user" as const, id: "usr_1", exactOnly: false, search: searchTag("john") };
    expect(decodeSearchCursor(encodeSearchCursor(position))).toEqual(position);
    const tag = searchTag("john");
    const bad = [
      "",
      "not-base64-json",
      Buffer.from(JSON.stringify(["x", "user", "id", 0, tag])).toString("base64url"),
      Buffer.from(JSON.stringify(["1", "group", "id", 0, tag])).toString("base64url"),
      // No search named (a cursor of the earlier format), or a damaged one.
      Buffer.from('["1","user","id",0]').toString("base64url"),
      Buffer.from(JSON.stringify(["1", "user", "id", 0, "short"])).toString("base64url"),
      // An id the database cannot take as text.
      Buffer.from(JSON.stringify(["1", "user", "a\u0000b", 0, tag])).toString("base64url"),
      Buffer.from(JSON.stringify(["1", "user", "a\ud800b", 0, tag])).toString("base64url"),
    ];
    for (const cursor of bad) {
      expect(() => decodeSearchCursor(cursor), cursor).toThrow(expect.objectContaining({ status: 400 }));
    }
    expect(() => assertCursorOf(position, "jane")).toThrow(expect.objectContaining({ status: 400 }));
    expect(() => assertCursorOf(position, "john")).not.toThrow();
  });
});
