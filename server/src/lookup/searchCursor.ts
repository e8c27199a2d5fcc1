import { createHash } from "node:crypto";
import { textFault } from "../audit/canonicalText.js";
import { Problem } from "../http/problem.js";

/** Where the previous page ended in the (score desc, kind, id) order; opaque to clients. */
export interface SearchPosition {
  score: string;
  kind: "user" | "account";
  id: string;
  /** The first page had an exact match, so weaker matches are not listed at all. */
  exactOnly: boolean;
  /** Which search the position is in (searchTag of the folded query): a page of one search is no position in another. */
  search: string;
}

/** A short digest of the folded query: the cursor names its search without carrying the query itself. */
export function searchTag(foldedQuery: string): string {
  return createHash("sha256").update(foldedQuery).digest("base64url").slice(0, 16);
}

export function encodeSearchCursor(position: SearchPosition): string {
  return Buffer.from(JSON.stringify([position.score, position.kind, position.id, position.exactOnly ? 1 : 0, position.search])).toString("base64url");
}

const damaged = () => Problem.badRequest("The cursor is not one this search returned", [{ field: "query.cursor", reason: "unknown or damaged cursor" }]);

export function decodeSearchCursor(cursor: string): SearchPosition {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw damaged();
  }
  if (Array.isArray(value) && value.length === 5) {
    const [score, kind, id, exactOnly, search] = value as unknown[];
    if (
      typeof score === "string" &&
      /^\d{1,3}(\.\d{1,6})?$/.test(score) &&
      (kind === "user" || kind === "account") &&
      // The id goes to the database as a parameter: text it cannot take (NUL) is a damaged cursor, not a 500.
      typeof id === "string" &&
      id.length <= 255 &&
      textFault(id) === null &&
      (exactOnly === 0 || exactOnly === 1) &&
      typeof search === "string" &&
      /^[A-Za-z0-9_-]{16}$/.test(search)
    ) {
      return { score, kind, id, exactOnly: exactOnly === 1, search };
    }
  }
  throw damaged();
}

/** Refuses a cursor that another search returned: its position means nothing in this one. */
export function assertCursorOf(position: SearchPosition, foldedQuery: string): void {
  if (position.search !== searchTag(foldedQuery)) {
    throw Problem.badRequest("The cursor belongs to another search", [{ field: "query.cursor", reason: "returned for other search words; ask for the first page of this search" }]);
  }
}
