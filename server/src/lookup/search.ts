import { createHash } from "node:crypto";
import { sql, type Kysely, type RawBuilder } from "kysely";
import { preparedStatement } from "../db/database.js";
import type { SearchHit, SearchQuery, SearchResults } from "../../../shared/schemas/context.js";
import type { DB } from "../db/schema.js";
import { EXACT_SCORE, MATCH_PREFERENCE, MAX_CHAR, STRONG_SCORE, TERMS_PER_WORD, allBranches, fuzzyWords, strongBranches, weakBranches, type SimilarTerms } from "./searchBranches.js";
import { assertCursorOf, decodeSearchCursor, encodeSearchCursor, searchTag, type SearchPosition } from "./searchCursor.js";

/**
 * One search box over users and accounts. Each way of matching is its own small, index-backed,
 * LIMITed query (searchBranches.ts); their union is ranked by tier (exact, prefix and whole words,
 * then typos and similar words) and paged with a keyset cursor over (score, kind, id). No branch
 * scans a whole table, whatever the input, and the weaker branches run only when needed.
 */

interface HitRow {
  kind: SearchHit["kind"];
  id: string;
  score: number;
  score_text: string;
  matched_on: string;
  account_id: string;
  account_name: string;
  domain: string | null;
  plan: string;
  account_status: string;
  user_name: string | null;
  user_email: string | null;
  user_status: string | null;
}

/** How a user appears in a result list (search hits, context candidates). */
export function userHit(user: { id: string; accountId: string; name: string; email: string; status: string; accountName: string }, matchedOn: string, score: number): SearchHit {
  return { kind: "user", id: user.id, accountId: user.accountId, title: user.name, subtitle: `${user.email} · ${user.accountName}`, status: user.status, matchedOn, score };
}

/** How an account appears in a result list. */
export function accountHit(account: { id: string; name: string; domain: string | null; plan: string; status: string }, matchedOn: string, score: number): SearchHit {
  return { kind: "account", id: account.id, accountId: account.id, title: account.name, subtitle: `${account.domain ?? "no domain"} · ${account.plan} · ${account.id}`, status: account.status, matchedOn, score };
}

function toHit(row: HitRow): SearchHit {
  if (row.kind === "user") {
    const user = { id: row.id, accountId: row.account_id, name: row.user_name ?? row.id, email: row.user_email ?? "", status: row.user_status ?? "unknown", accountName: row.account_name };
    return userHit(user, row.matched_on, row.score);
  }
  return accountHit({ id: row.id, name: row.account_name, domain: row.domain, plan: row.plan, status: row.account_status }, row.matched_on, row.score);
}

/**
 * The ranked page after `after` over the union of `branches`, one row more than asked to tell if more follow.
 * The page is cut before users and accounts are joined: the planner then expects a page's worth of rows
 * and probes the primary keys, where joining the whole union (estimated at every branch's LIMIT) made it
 * hash all of accounts on every search.
 */
export function searchStatement(branches: ReturnType<typeof allBranches>, limit: number, after?: SearchPosition) {
  const keyset = after
    ? sql`and (b.score < ${after.score}::numeric or (b.score = ${after.score}::numeric and (b.kind, b.id) > (${after.kind}::text, ${after.id}::text)))`
    : sql``;

  return sql<HitRow>`
    with candidates as (${sql.join(branches, sql` union all `)}),
    best as (
      select distinct on (kind, id) kind, id, round(score::numeric, 4) as score, matched_on
      from candidates
      order by kind, id, score desc, array_position(array[${sql.join(MATCH_PREFERENCE.map((m) => sql.lit(m)))}]::text[], matched_on), matched_on
    ),
    page as (
      select kind, id, score, matched_on from best b
      where true ${keyset}
      order by score desc, kind, id
      limit ${limit + 1}
    )
    select b.kind, b.id, b.score::float8 as score, b.score::text as score_text, b.matched_on,
      a.id as account_id, a.name as account_name, a.domain, a.plan, a.status as account_status,
      u.name as user_name, u.email as user_email, u.status as user_status
    from page b
    left join users u on b.kind = 'user' and u.id = b.id
    join accounts a on a.id = coalesce(u.account_id, b.id)
    order by b.score desc, b.kind, b.id`;
}

/**
 * The vocabulary words most similar to each query word. A word the vocabulary does not hold is a likely
 * misspelling and gets pg_trgm's default threshold, 0.3 ("schnedier" → schneider, "vertx" → vertex,
 * "schnei" → schneider). A word it holds is taken nearly as typed: its neighbours need similarity 0.6. A
 * long known word (a domain such as nimbusrapid53) shares common trigrams with thousands of others, and at
 * 0.3 every one of them went through the trigram recheck: 30–45 ms for one word, against 4–7 ms.
 * The threshold is pg_trgm's setting, set for this statement only (is_local) before each word's lookup
 * (OFFSET 0 keeps the per-word row, and its set_config, apart from the lookup that reads it).
 */
export async function similarTerms(db: Kysely<DB>, words: string[]): Promise<SimilarTerms> {
  return (await lookUpSimilar(db, words, false)).terms;
}

/**
 * similarTerms for the words that do not start many vocabulary words; those are listed in `common` instead.
 * Looked up beside the strong statement (SearchOptions), before anyone knows whether the words are needed:
 * a word that starts thousands of others (a company-name word such as "harbo", "silv", in every domain)
 * costs 15–20 ms of trigram rechecks, and its strong matches nearly always fill the page anyway, while a
 * misspelling, which needs the words, starts none and costs well under a millisecond. A common word still
 * needed is looked up afterwards.
 */
export async function similarTermsOfUncommonWords(db: Kysely<DB>, words: string[]): Promise<{ terms: SimilarTerms; common: string[] }> {
  return lookUpSimilar(db, words, true);
}

/** Vocabulary words starting with a word, counted up to this: as many, and the word is common. */
const COMMON_PREFIX_TERMS = 50;

async function lookUpSimilar(db: Kysely<DB>, words: string[], skipCommon: boolean): Promise<{ terms: SimilarTerms; common: string[] }> {
  if (words.length === 0) return { terms: new Map(), common: [] };
  const common = skipCommon
    ? // `word || MAX_CHAR` bounds the words that start with it (approximately, where the collation is not C: a hint only).
      sql`(select count(*) from (select 1 from search_terms p where p.term >= w.word and p.term < w.word || ${MAX_CHAR} limit ${sql.lit(COMMON_PREFIX_TERMS)}) c) >= ${sql.lit(COMMON_PREFIX_TERMS)}`
    : sql`false`;
  const { rows } = await sql<{ word: string; common: boolean; terms: string[] | null }>`${preparedStatement(skipCommon ? "search_similar_uncommon_terms" : "search_similar_terms")}
    select v.word, v.common, case when v.common then null else array(
      select term from search_terms where term % v.word
      order by similarity(term, v.word) desc, term limit ${sql.lit(TERMS_PER_WORD)}) end as terms
    from (
      select w.word, set_config('pg_trgm.similarity_threshold',
        case when exists (select 1 from search_terms k where k.term = w.word) then ${sql.lit(KNOWN_WORD_SIMILARITY)} else ${sql.lit(UNKNOWN_WORD_SIMILARITY)} end, true),
        ${common} as common
      from unnest(${words}::text[]) as w(word) offset 0) as v(word, threshold, common)`.execute(db);
  return { terms: new Map(rows.flatMap((r) => (r.terms ? [[r.word, r.terms] as const] : []))), common: rows.filter((r) => r.common).map((r) => r.word) };
}

const KNOWN_WORD_SIMILARITY = "0.6";
const UNKNOWN_WORD_SIMILARITY = "0.3";

/**
 * Folded with the same function the indexes use, so "Zoë" and "ZOE" meet "zoe". Most queries are plain
 * ASCII, which folds to its lower case: those are folded here, without a round trip, once this database
 * has been seen to fold every printable ASCII character that way (its ctype decides; checked once).
 */
export async function foldQuery(db: Kysely<DB>, q: string): Promise<string> {
  if (PRINTABLE_ASCII_ONLY.test(q) && (await asciiFoldsToLowerCase(db))) return q.toLowerCase();
  return sqlFold(db, q);
}

async function sqlFold(db: Kysely<DB>, q: string): Promise<string> {
  const row = (await sql<{ f: string | null }>`${preparedStatement("search_fold")} select steward_fold(${q}) as f`.execute(db)).rows[0];
  return row?.f ?? "";
}

const PRINTABLE_ASCII_ONLY = /^[\x20-\x7e]*$/;
const PRINTABLE_ASCII = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join("");
const asciiChecks = new WeakMap<Kysely<DB>, Promise<boolean>>();

/** Whether steward_fold is toLowerCase on printable ASCII in this database; a failed check is tried again next time. */
export function asciiFoldsToLowerCase(db: Kysely<DB>): Promise<boolean> {
  let check = asciiChecks.get(db);
  if (!check) {
    check = sqlFold(db, PRINTABLE_ASCII).then((folded) => folded === PRINTABLE_ASCII.toLowerCase());
    check.catch(() => asciiChecks.delete(db));
    asciiChecks.set(db, check);
  }
  return check;
}

export interface SearchOptions {
  /**
   * Look up the similar words beside the strong statement rather than after it (PostgreSQL, whose pool
   * runs both at once): a search the strong matches do not answer (typos, rare fragments: the slow
   * ones) then waits for one statement less; the others throw the words away, which is why words that
   * start many others are left to afterwards (similarTermsOfUncommonWords). Not on PGlite's one connection.
   */
  similarTermsBeside?: boolean;
}

export async function searchDirectory(db: Kysely<DB>, query: SearchQuery, options: SearchOptions = {}): Promise<SearchResults> {
  const after = query.cursor ? decodeSearchCursor(query.cursor) : undefined;
  const f = await foldQuery(db, query.q);
  if (f === "") return { hits: [], nextCursor: null };
  if (after) assertCursorOf(after, f);
  // Weaker matches always rank below strong ones: while strong matches fill the page, the costlier branches need not run.
  let rows: HitRow[] = [];
  let early: Promise<{ terms: SimilarTerms; common: string[] }> | undefined;
  if (!after || Number(after.score) >= STRONG_SCORE) {
    if (options.similarTermsBeside) {
      early = similarTermsOfUncommonWords(db, fuzzyWords(f));
      // Awaited below only if the strong matches leave room; a failure it then has is thrown there.
      early.catch(() => undefined);
    }
    rows = (await runPrepared(db, searchStatement(strongBranches(f), query.limit, after))).rows;
  }
  // An exact id or email is what the agent meant: near misses would only bury it.
  const exactOnly = after ? after.exactOnly : rows[0]?.score === EXACT_SCORE;
  if (rows.length <= query.limit && !exactOnly) {
    const terms = await (early ? withCommonWords(db, early) : similarTerms(db, fuzzyWords(f)));
    if (after) {
      // A later page: its cursor may sit among strong or weak matches, so rank them together.
      rows = (await runPrepared(db, searchStatement(allBranches(f, terms), query.limit, after))).rows;
    } else {
      // The first page, not filled by strong matches: those are every strong match there is, and each
      // ranks above every weak one. Only the weak branches run; a row that matched both keeps its strong place.
      const weak = weakBranches(f, terms);
      const more = weak.length ? (await runPrepared(db, searchStatement(weak, query.limit + rows.length))).rows : [];
      const strong = new Set(rows.map((r) => `${r.kind}:${r.id}`));
      rows = [...rows, ...more.filter((r) => !strong.has(`${r.kind}:${r.id}`))].slice(0, query.limit + 1);
    }
  }

  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    hits: page.map(toHit),
    nextCursor: rows.length > query.limit && last ? encodeSearchCursor({ score: last.score_text, kind: last.kind, id: last.id, exactOnly, search: searchTag(f) }) : null,
  };
}

/** The early lookup's words, and those it left out looked up now. */
async function withCommonWords(db: Kysely<DB>, early: Promise<{ terms: SimilarTerms; common: string[] }>): Promise<SimilarTerms> {
  const { terms, common } = await early;
  return common.length === 0 ? terms : new Map([...terms, ...(await similarTerms(db, common))]);
}

/**
 * A search statement's text depends only on the shape of the query (how many words, an "@", which weak
 * branches apply), never on its values, which are parameters: each shape is parsed and planned once per
 * connection instead of on every search (planning these unions cost more than running them).
 */
function runPrepared<T>(db: Kysely<DB>, statement: RawBuilder<T>) {
  const name = `search_${createHash("sha256").update(statement.compile(db).sql).digest("hex").slice(0, 20)}`;
  return sql<T>`${preparedStatement(name)}${statement}`.execute(db);
}
