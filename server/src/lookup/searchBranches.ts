import { sql, type RawBuilder } from "kysely";
import type { SearchHit } from "../../../shared/schemas/context.js";
import { TYPO_MIN_LENGTH, typoVariants } from "./typoVariants.js";

/**
 * The ways a search can match, each a small index-backed query with its own LIMIT (see search.ts).
 * Every branch yields (kind, id, score, matched_on); the score puts each way of matching in a tier:
 * exact 3, prefix and whole words 2–2.99, then typos (and, for an email, similar addresses)
 * 1.5–1.99, the account owning an email's domain 1.45, and similar words 1–1.99.
 */

/** Candidates each branch contributes; paging walks the ranked union of these. */
export const BRANCH_LIMIT = 100;
/** Exact, prefix and whole-word matches score at least this; every weaker kind of match scores below it. */
export const STRONG_SCORE = 2;
export const EXACT_SCORE = 3;
/** Trigrams mean little on fewer characters. */
const FUZZY_MIN_LENGTH = 3;
/** Rows a fuzzy branch scores at most: a common word can match tens of thousands. */
const FUZZY_SCAN_LIMIT = 200;
/** Vocabulary words taken per query word. */
export const TERMS_PER_WORD = 8;
/** Whole-word lookups take at most this many words of the query. */
const MAX_WORDS = 4;
/** Highest code point: `prefix || MAX_CHAR` bounds a prefix range in byte (text_pattern_ops) order. */
export const MAX_CHAR = String.fromCodePoint(0x10ffff);

type Kind = SearchHit["kind"];
type Branch = RawBuilder<unknown>;

/** When a row matches several ways with the same score, the first of these names why. */
export const MATCH_PREFERENCE = [
  "email", "user_id", "idp_id", "account_id", "billing_customer_id", "domain",
  "email_prefix", "user_id_prefix", "idp_id_prefix", "account_id_prefix", "billing_customer_id_prefix", "name_prefix", "name_words", "domain_prefix",
  "email_typo", "name_typo", "email_domain", "name_fuzzy", "email_fuzzy", "domain_fuzzy",
];

const folded = (column: string) => sql`steward_fold(${sql.ref(column)})`;
const lowered = (column: string) => sql`lower(${sql.ref(column)})`;
const from = (kind: Kind) => (kind === "user" ? sql`users u` : sql`accounts a`);
const idOf = (kind: Kind) => (kind === "user" ? sql`u.id` : sql`a.id`);

/** The words of the folded query, split as steward_words() splits names. */
export function queryWords(f: string): string[] {
  return f.split(/[^\p{L}\p{N}]+/u).filter(Boolean).slice(0, MAX_WORDS);
}

/** search_words sources (migration 022): which column a word came from. */
const WORD_SOURCE: Record<string, string> = { "u.name": "un", "u.email": "ue", "a.name": "an", "a.domain": "ad" };

/**
 * Rows of `column` holding one of `terms` as a word. One word: a btree range of search_words that stops at
 * `limit`, where the words GIN index would first build a bitmap of every match (50k rows for a common surname).
 */
function holdingWord(kind: Kind, column: string, terms: string[], limit: number): Branch {
  const source = WORD_SOURCE[column];
  if (!source) throw new Error(`no search_words source for ${column}`);
  return sql`${idOf(kind)} in (select w.id from search_words w where w.source = ${sql.lit(source)} and w.term = any(${terms}::text[]) limit ${sql.lit(limit)})`;
}

function branch(kind: Kind, matchedOn: string, score: Branch, where: Branch, order?: Branch): Branch {
  return sql`(select ${sql.lit(kind)}::text as kind, ${idOf(kind)} as id, (${score})::float8 as score, ${sql.lit(matchedOn)}::text as matched_on
    from ${from(kind)} where ${where} ${order ? sql`order by ${order}` : sql``} limit ${sql.lit(BRANCH_LIMIT)})`;
}

/** Exact id, email, customer id or domain: the strongest signal there is. */
function exactBranches(f: string): Branch[] {
  const exact = sql.lit(EXACT_SCORE);
  return [
    branch("user", "email", exact, sql`${folded("u.email")} = ${f}`),
    branch("user", "user_id", exact, sql`${lowered("u.id")} = ${f}`),
    branch("user", "idp_id", exact, sql`${lowered("u.idp_id")} = ${f}`),
    branch("account", "account_id", exact, sql`${lowered("a.id")} = ${f}`),
    branch("account", "billing_customer_id", exact, sql`${lowered("a.billing_customer_id")} = ${f}`),
    branch("account", "domain", exact, sql`${folded("a.domain")} = ${f}`),
  ];
}

/**
 * Starts-with on the btree (text_pattern_ops) indexes, read in index order so the LIMIT stops
 * early; and names containing every word of the query (a surname), through the words GIN index.
 */
function prefixBranches(f: string): Branch[] {
  // A byte-order range, not LIKE: a range on parameters is an index condition in a prepared statement's
  // generic plan too, where `like $1` is not (search.ts prepares these statements).
  const prefix = (kind: Kind, matchedOn: string, expr: Branch) =>
    branch(kind, matchedOn, sql`2 + 0.99 * similarity(${expr}, ${f})`, sql`${expr} ~>=~ ${f} and ${expr} ~<~ ${f + MAX_CHAR}`, sql`${expr} using ~<~`);
  const words = f.includes("@") ? [] : queryWords(f);
  const wholeWords = (kind: Kind, column: string) =>
    branch(kind, "name_words", sql`2 + 0.99 * similarity(${folded(column)}, ${f})`,
      words.length === 1 ? holdingWord(kind, column, words, BRANCH_LIMIT) : sql`steward_words(${sql.ref(column)}) @> ${words}::text[]`);
  return [
    prefix("user", "email_prefix", folded("u.email")),
    prefix("user", "name_prefix", folded("u.name")),
    prefix("user", "user_id_prefix", lowered("u.id")),
    prefix("user", "idp_id_prefix", lowered("u.idp_id")),
    prefix("account", "name_prefix", folded("a.name")),
    prefix("account", "domain_prefix", folded("a.domain")),
    prefix("account", "account_id_prefix", lowered("a.id")),
    prefix("account", "billing_customer_id_prefix", lowered("a.billing_customer_id")),
    ...(words.length ? [wholeWords("user", "u.name"), wholeWords("account", "a.name")] : []),
  ];
}

/** Vocabulary words close to each word of the query (see similarTerms in search.ts). */
export type SimilarTerms = Map<string, string[]>;

/**
 * Rows whose words include, for every word of the query, one of the vocabulary words closest to it:
 * misspellings and fragments ("schnedier", "ndelay") through the words GIN index. A common surname
 * still costs one GIN key per word, and only the first FUZZY_SCAN_LIMIT rows are scored.
 */
function similarWordsBranch(kind: Kind, matchedOn: string, column: string, words: string[], terms: SimilarTerms, score: (value: Branch) => Branch): Branch | null {
  const sets = words.map((w) => terms.get(w) ?? []);
  if (sets.length === 0 || sets.some((set) => set.length === 0)) return null;
  const value = folded(column);
  const [only] = sets;
  const all = sets.length === 1 && only ? holdingWord(kind, column, only, FUZZY_SCAN_LIMIT) : sql.join(sets.map((set) => sql`steward_words(${sql.ref(column)}) && ${set}::text[]`), sql` and `);
  return sql`(select ${sql.lit(kind)}::text as kind, m.id, (${score(sql`m.value`)})::float8 as score, ${sql.lit(matchedOn)}::text as matched_on
    from (select ${idOf(kind)} as id, ${value} as value from ${from(kind)} where ${all} limit ${sql.lit(FUZZY_SCAN_LIMIT)}) m
    order by 3 desc, m.id limit ${sql.lit(BRANCH_LIMIT)})`;
}

/** Words worth looking up in the vocabulary: trigrams mean little on fewer than three characters. */
export function fuzzyWords(f: string): string[] {
  return queryWords(f).filter((w) => [...w].length >= FUZZY_MIN_LENGTH);
}

/**
 * One-slip spellings of a single-word query ("jhon" → "john"): as whole words of names, and as the
 * start of an address ("jhon@" → "john@…"), one short index range per variant through LATERAL.
 */
function typoBranches(f: string): Branch[] {
  const at = f.indexOf("@");
  const word = at >= 0 ? f.slice(0, at) : f;
  if (/\s/.test(word)) return [];
  const variants = typoVariants(word);
  if (variants.length === 0) return [];
  const typoScore = (value: Branch) => sql`1.5 + 0.49 * similarity(${value}, ${f})`;
  const prefixes = at >= 0 ? variants.map((v) => `${v}${f.slice(at)}`) : variants;
  const email = folded("u.email");
  const addresses = sql`(select 'user'::text as kind, t.id, (${typoScore(sql`t.value`)})::float8 as score, 'email_typo'::text as matched_on
    from unnest(${prefixes}::text[]) as v(prefix)
    cross join lateral (select u.id, ${email} as value from users u
      where ${email} ~>=~ v.prefix and ${email} ~<~ (v.prefix || ${MAX_CHAR})
      order by ${email} using ~<~ limit 20) t
    limit ${sql.lit(BRANCH_LIMIT)})`;
  if (at >= 0) return [addresses];
  const names = (kind: Kind, column: string) => branch(kind, "name_typo", typoScore(folded(column)), holdingWord(kind, column, variants, BRANCH_LIMIT));
  return [addresses, names("user", "u.name"), names("account", "a.name")];
}

/**
 * An email-shaped query: the account owning its domain, one-slip spellings of the part before "@",
 * addresses made of words like the query's, and accounts with a domain like the one after "@".
 */
function emailWeakBranches(f: string, terms: SimilarTerms): Branch[] {
  const domain = f.slice(f.indexOf("@") + 1);
  const branches: (Branch | null)[] = [...typoBranches(f)];
  if (domain.includes(".")) branches.push(branch("account", "email_domain", sql`1.45`, sql`${folded("a.domain")} = ${domain}`));
  branches.push(similarWordsBranch("user", "email_fuzzy", "u.email", fuzzyWords(f), terms, (v) => sql`1.5 + 0.49 * similarity(${v}, ${f})`));
  // Below the owner of the exact domain: a look-alike domain is a weaker hint than the address itself.
  branches.push(similarWordsBranch("account", "domain_fuzzy", "a.domain", fuzzyWords(domain), terms, (v) => sql`1 + 0.4 * similarity(${v}, ${domain})`));
  return branches.filter((b): b is Branch => b !== null);
}

/** Anything else: one-slip typos of a single word, then names, addresses and domains made of similar words. */
function textWeakBranches(f: string, terms: SimilarTerms): Branch[] {
  const words = fuzzyWords(f);
  const closeness = (v: Branch) => sql`1 + 0.99 * greatest(similarity(${v}, ${f}), word_similarity(${f}, ${v}))`;
  const branches = [
    ...typoBranches(f),
    similarWordsBranch("user", "name_fuzzy", "u.name", words, terms, closeness),
    similarWordsBranch("user", "email_fuzzy", "u.email", words, terms, closeness),
    similarWordsBranch("account", "name_fuzzy", "a.name", words, terms, closeness),
    similarWordsBranch("account", "domain_fuzzy", "a.domain", words, terms, closeness),
  ];
  return branches.filter((b): b is Branch => b !== null);
}

/** Exact and prefix matches only: enough for most pages, and never more than a few index probes. */
export function strongBranches(f: string): Branch[] {
  return [...exactBranches(f), ...prefixBranches(f)];
}

/** Typos and similar words: below every strong match, run only when strong matches do not fill a page. */
export function weakBranches(f: string, terms: SimilarTerms): Branch[] {
  return [...f].length < TYPO_MIN_LENGTH ? [] : f.includes("@") ? emailWeakBranches(f, terms) : textWeakBranches(f, terms);
}

/** Every branch: a later page whose cursor may fall among strong or weak matches ranks them together. */
export function allBranches(f: string, terms: SimilarTerms): Branch[] {
  return [...strongBranches(f), ...weakBranches(f, terms)];
}
