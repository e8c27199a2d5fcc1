import { Problem } from "../http/problem.js";

/** Where the previous page ended in the (score desc, kind, id) order; opaque to clients. */
export interface SearchPosition {
  score: string;
  kind: "user" | "account";
  id: string;
  /** The first page had an exact match, so weaker matches are not listed at all. */
  exactOnly: boolean;
}

export function encodeSearchCursor(position: SearchPosition): string {
  return Buffer.from(JSON.stringify([position.score, position.kind, position.id, position.exactOnly ? 1 : 0])).toString("base64url");
}

export function decodeSearchCursor(cursor: string): SearchPosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 4) {
      const [score, kind, id, exactOnly] = value as unknown[];
      if (typeof score === "string" && /^\d{1,3}(\.\d{1,6})?$/.test(score) && (kind === "user" || kind === "account") && typeof id === "string" && (exactOnly === 0 || exactOnly === 1)) {
        return { score, kind, id, exactOnly: exactOnly === 1 };
      }
    }
  } catch {
    // falls through to the 400 below
  }
  throw Problem.badRequest("The cursor is not one this search returned", [{ field: "query.cursor", reason: "unknown or damaged cursor" }]);
}
