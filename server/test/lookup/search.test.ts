import fc from "fast-check";
import { sql, type Kysely } from "kysely";
import type { Express } from "express";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SearchHit } from "../../../shared/schemas/context.js";
import { createApp } from "../../src/app.js";
import type { DB } from "../../src/db/schema.js";
import { asciiFoldsToLowerCase, foldQuery, searchDirectory, searchStatement, similarTerms, similarTermsOfUncommonWords } from "../../src/lookup/search.js";
import { allBranches, fuzzyWords } from "../../src/lookup/searchBranches.js";
import { databaseKinds } from "../support/databases.js";
import { AGENT, addAccount, addUser, lookupTestDeps, sessionFor, SETUP_TIMEOUT_MS, type TestDeps } from "./fixtures.js";

describe.each(databaseKinds)("GET /api/search on %s", (kind) => {
  let deps: TestDeps;
  let app: Express;
  let token: string;

  const search = (query: Record<string, string | number>, headers: Record<string, string> = {}) =>
    request(app).get("/api/search").query(query).set("Authorization", `Bearer ${token}`).set(headers);
  const hitsFor = async (q: string, limit = 50): Promise<SearchHit[]> => {
    const res = await search({ q, limit });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.hits as SearchHit[];
  };

  beforeAll(async () => {
    deps = await lookupTestDeps(kind);
    app = createApp(deps);
    token = await sessionFor(app, deps, AGENT.readOnly.zendeskUserId);
    const db = deps.database.db;
    await addAccount(db, { id: "acc_t_north", name: "Northwind Traders", domain: "northwind.example", billing_customer_id: "cus_NwTraders42" });
    await addAccount(db, { id: "acc_t_north_2", name: "Northwind Logistics" });
    await addAccount(db, { id: "acc_t_north_3", name: "Northwind Foods" });
    await addUser(db, { id: "usr_t_john", account_id: "acc_t_north", email: "john@northwind.example", name: "John Carter" });
    // Shares the name words of the email below, but not the address: the fuzzy rival of an exact email.
    await addUser(db, { id: "usr_t_mara_name", account_id: "acc_t_north", email: "m.quill@northwind.example", name: "Mara Quillfeather" });
    await addUser(db, { id: "usr_t_mara", account_id: "acc_t_north", email: "mara.quillfeather@northwind.example", name: "M. Q." });
    await addUser(db, { id: "usr_t_zoe_plain", account_id: "acc_t_north", email: "zoe.plain@northwind.example", name: "Zoe Plainfield" });
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await deps.database.close();
  });

  it("ranks an exact email above a fuzzy name match", async () => {
    const hits = await hitsFor("Mara.Quillfeather@northwind.example");
    expect(hits[0]).toMatchObject({ kind: "user", id: "usr_t_mara", matchedOn: "email", score: 3 });
    // Without the exact address, the same person-by-name is found, ranked below any exact hit.
    const byName = await hitsFor("mara quilfeather");
    const rival = byName.find((h) => h.id === "usr_t_mara_name");
    expect(rival?.matchedOn).toBe("name_fuzzy");
    expect(rival?.score).toBeLessThan(3);
  });

  it("folds a plain-ASCII query as the database's steward_fold does, without asking it; anything else is folded by the database", async () => {
    const db = deps.database.db;
    const dbFold = async (q: string) => (await sql<{ f: string }>`select steward_fold(${q}) as f`.execute(db)).rows[0]!.f;
    expect(await asciiFoldsToLowerCase(db)).toBe(true);
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: fc.constantFrom(...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))), maxLength: 40 }), async (q) => {
        expect(await foldQuery(db, q)).toBe(await dbFold(q));
      }),
      { numRuns: 150 },
    );
    // Not plain ASCII: the database folds (accents, and characters whose lower case differs by locale).
    for (const q of ["Zoë MÜLLER", "ÆSIR", "İstanbul", "tab\there"]) expect(await foldQuery(db, q)).toBe(await dbFold(q));
    expect(await foldQuery(db, "Zoë")).toBe("zoe");
  });

  it("folds in the database when its steward_fold is not lower case on ASCII (checked once per connection pool)", async () => {
    const rollback = new Error("rollback");
    await expect(
      deps.database.db.transaction().execute(async (tx) => {
        const schema = (await sql<{ s: string }>`select n.nspname as s from pg_proc p join pg_namespace n on n.oid = p.pronamespace where p.proname = 'steward_fold'`.execute(tx)).rows[0]!.s;
        await sql`create or replace function ${sql.id(schema)}.steward_fold(text) returns text language sql immutable as $$ select pg_catalog.upper($1) $$`.execute(tx);
        const folds = tx as unknown as Kysely<DB>;
        expect(await asciiFoldsToLowerCase(folds)).toBe(false);
        expect(await foldQuery(folds, "John Carter")).toBe("JOHN CARTER");
        throw rollback;
      }),
    ).rejects.toBe(rollback);
    expect(await foldQuery(deps.database.db, "John Carter")).toBe("john carter");
  });

  it("finds john@ when the agent types jhon@", async () => {
    const hits = await hitsFor("jhon@");
    expect(hits.map((h) => h.id)).toContain("usr_t_john");
    expect(hits.find((h) => h.id === "usr_t_john")?.matchedOn).toBe("email_typo");
    const full = await hitsFor("jhon@northwind.example");
    expect(full[0]?.id).toBe("usr_t_john");
  });

  it("finds an account by its billing customer id, in any case", async () => {
    for (const q of ["cus_NwTraders42", "CUS_NWTRADERS42", " cus_nwtraders42 "]) {
      const hits = await hitsFor(q);
      expect(hits[0], q).toMatchObject({ kind: "account", id: "acc_t_north", matchedOn: "billing_customer_id", score: 3 });
    }
    const partial = await hitsFor("cus_NwTrad");
    expect(partial[0]).toMatchObject({ kind: "account", id: "acc_t_north", matchedOn: "billing_customer_id_prefix" });
  });

  it("matches without regard to accents or case", async () => {
    const zoe = await hitsFor("zoe");
    const titles = zoe.map((h) => h.title);
    expect(titles.some((t) => t.startsWith("Zoë "))).toBe(true);
    expect(titles).toContain("Zoe Plainfield");
    const accented = await hitsFor("ZOË PLAIN");
    expect(accented[0]).toMatchObject({ id: "usr_t_zoe_plain" });
    const muller = await hitsFor("muller");
    expect(muller.some((h) => h.title.includes("Müller"))).toBe(true);
  });

  it("finds ids, identity-provider ids, domains and name fragments", async () => {
    expect((await hitsFor("usr_demo_001_3"))[0]).toMatchObject({ kind: "user", id: "usr_demo_001_3", matchedOn: "user_id" });
    expect((await hitsFor("auth0|demo0013"))[0]).toMatchObject({ kind: "user", id: "usr_demo_001_3", matchedOn: "idp_id" });
    expect((await hitsFor("acc_demo_007"))[0]).toMatchObject({ kind: "account", id: "acc_demo_007", matchedOn: "account_id" });
    expect((await hitsFor("northwind.example"))[0]).toMatchObject({ kind: "account", id: "acc_t_north", matchedOn: "domain" });
    const fragment = await hitsFor("northwnd");
    expect(fragment.map((h) => h.id)).toContain("acc_t_north");
    const words = await hitsFor("carter");
    expect(words[0]).toMatchObject({ id: "usr_t_john", matchedOn: "name_words" });
  });

  it("learns the words of new and renamed rows, so their misspellings are found", async () => {
    const db = deps.database.db;
    expect((await hitsFor("brightwatre")).map((h) => h.id)).not.toContain("acc_t_north_2");
    await db.updateTable("accounts").set({ name: "Brightwater Logistics" }).where("id", "=", "acc_t_north_2").execute();
    const renamed = await hitsFor("brightwatre");
    expect(renamed[0]).toMatchObject({ id: "acc_t_north_2", matchedOn: "name_fuzzy" });
    await db.updateTable("accounts").set({ name: "Northwind Logistics" }).where("id", "=", "acc_t_north_2").execute();
  });

  it("pages through every hit once, in rank order", async () => {
    const all = await hitsFor("acc_demo_0", 50);
    expect(all.length).toBe(36);
    const seen: SearchHit[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await search({ q: "acc_demo_0", limit: 7, ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      seen.push(...(res.body.hits as SearchHit[]));
      cursor = res.body.nextCursor as string | null;
      pages++;
    } while (cursor && pages < 20);
    expect(pages).toBe(6);
    expect(seen.map((h) => h.id)).toEqual(all.map((h) => h.id));
    expect(new Set(seen.map((h) => h.id)).size).toBe(36);
    const scores = seen.map((h) => h.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  it("pages across tiers: strong matches first, then weaker ones, no repeats", async () => {
    const whole = await hitsFor("northwind", 50);
    // Three strong (account name) hits, then the users whose address mentions it: page 2 crosses tiers.
    expect(whole.filter((h) => h.score >= 2).map((h) => h.id).sort()).toEqual(["acc_t_north", "acc_t_north_2", "acc_t_north_3"]);
    expect(whole.filter((h) => h.score < 2).length).toBeGreaterThanOrEqual(4);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await search({ q: "northwind", limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...(res.body.hits as SearchHit[]).map((h) => `${h.kind}:${h.id}`));
      cursor = res.body.nextCursor as string | null;
    } while (cursor);
    expect(seen).toEqual(whole.map((h) => `${h.kind}:${h.id}`));
  });

  it("a first page not filled by strong matches is the full ranking's first page (weak branches run alone, matches of both kept strong)", async () => {
    const db = deps.database.db;
    // "northwind": account names match strongly and their domains weakly as well (the same rows, both ways).
    for (const q of ["northwind", "nrothwind", "jhon@northwind.example", "mara quilfeather", "Northwind Traders", "zoe", "john"]) {
      for (const limit of [2, 5, 50]) {
        const f = await foldQuery(db, q);
        const whole = (await searchStatement(allBranches(f, await similarTerms(db, fuzzyWords(f))), limit).execute(db)).rows;
        const expected = whole.slice(0, limit).map((r) => `${r.kind}:${r.id}:${r.score}:${r.matched_on}`);
        // The same page whether the similar words are looked up after the strong statement or beside it.
        for (const similarTermsBeside of [false, true]) {
          const page = await searchDirectory(db, { q, limit }, { similarTermsBeside });
          expect(page.hits.map((h) => `${h.kind}:${h.id}:${h.score}:${h.matchedOn}`), `${q} (limit ${limit}, beside: ${similarTermsBeside})`).toEqual(expected);
          expect(page.nextCursor !== null, `${q} (limit ${limit}) has a next page`).toBe(whole.length > limit);
        }
      }
    }
  });

  it("beside the strong statement, a word that starts many vocabulary words is left out, and looked up after if the search needs it", async () => {
    const db = deps.database.db;
    // Fifty more words starting with "northwi": it is now a common start, as a company-name word is.
    const many = Array.from({ length: 50 }, (_, i) => `northwix${String(i).padStart(2, "0")}`);
    await sql`insert into search_terms (term) select unnest(${many}::text[])`.execute(db);
    try {
      const early = await similarTermsOfUncommonWords(db, ["northwi", "jhon"]);
      expect(early.common).toEqual(["northwi"]);
      expect([...early.terms.keys()]).toEqual(["jhon"]);
      expect(early.terms.get("jhon")).toEqual((await similarTerms(db, ["jhon"])).get("jhon"));
      // The three Northwind accounts start with it, which leaves room on a page of five: the similar words
      // are needed (their users), looked up afterwards, and the page is the one a search in series gives.
      const serial = await searchDirectory(db, { q: "northwi", limit: 5 });
      expect(serial.hits.some((h) => h.kind === "user")).toBe(true);
      expect(await searchDirectory(db, { q: "northwi", limit: 5 }, { similarTermsBeside: true })).toEqual(serial);
    } finally {
      await sql`delete from search_terms where term like 'northwix%'`.execute(db);
    }
  });

  it("with the similar words looked up beside the strong statement, their failure fails only a search that needs them", async () => {
    const db = deps.database.db;
    // The vocabulary is gone for a moment, so the similar-words statement fails; the strong branches do not read it.
    await sql`alter table search_terms rename to search_terms_away`.execute(db);
    try {
      // An exact email: the strong statement answers; the failed lookup is left unawaited, and handled (no unhandled rejection).
      const exact = await searchDirectory(db, { q: "john@northwind.example", limit: 5 }, { similarTermsBeside: true });
      expect(exact.hits.map((h) => h.id)).toEqual(["usr_t_john"]);
      // A misspelling needs the similar words: the failure is the search's.
      await expect(searchDirectory(db, { q: "nrothwind", limit: 5 }, { similarTermsBeside: true })).rejects.toThrow(/search_terms/);
    } finally {
      await sql`alter table search_terms_away rename to search_terms`.execute(db);
    }
    expect((await searchDirectory(db, { q: "nrothwind", limit: 5 }, { similarTermsBeside: true })).hits.length).toBeGreaterThan(0);
  });

  it("takes a word the vocabulary holds nearly as typed, a word it lacks broadly, and leaves the session's threshold alone", async () => {
    const db = deps.database.db;
    // "northwood" is 0.43 similar to the known "northwind": a neighbour at pg_trgm's 0.3, not at 0.6.
    await sql`insert into search_terms (term) values ('northwood'), ('northwinds')`.execute(db);
    try {
      await db.connection().execute(async (conn) => {
        const terms = await similarTerms(conn, ["northwind", "nortwind"]);
        expect(terms.get("northwind")).toEqual(["northwind", "northwinds"]);
        // The misspelling (not in the vocabulary) reaches the known word at 0.58.
        expect(terms.get("nortwind")).toContain("northwind");
        // set_config(…, true) lasted for that statement only: the connection is back at the default.
        const after = await sql<{ t: string }>`select current_setting('pg_trgm.similarity_threshold') as t`.execute(conn);
        expect(Number(after.rows[0]?.t)).toBe(0.3);
      });
    } finally {
      await sql`delete from search_terms where term in ('northwood', 'northwinds')`.execute(db);
    }
  });

  it("answers 400 problem+json naming q for empty, oversized or huge queries, fast", async () => {
    for (const q of ["", "   ", "x".repeat(201)]) {
      const res = await search({ q });
      expect(res.status, q).toBe(400);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "query.q" })]);
    }
    const started = Date.now();
    // 10 KB: still under Node's header limit, so it is our validation that refuses it.
    const huge = await search({ q: "jhon smith ".repeat(1_000).slice(0, 10_240) });
    expect(huge.status).toBe(400);
    expect(huge.body.errors[0].field).toBe("query.q");
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await request(app).get("/api/search").set("Authorization", `Bearer ${token}`)).body.errors[0].field).toBe("query.q");
  });

  it("rejects a bad limit or a forged cursor", async () => {
    expect((await search({ q: "john", limit: 0 })).body.errors[0].field).toBe("query.limit");
    expect((await search({ q: "john", limit: 51 })).status).toBe(400);
    const forged = await search({ q: "john", cursor: Buffer.from('["9","user","x"]').toString("base64url") });
    expect(forged.status).toBe(400);
    expect(forged.body.errors[0].field).toBe("query.cursor");
    // An id the database cannot take (NUL), inside an otherwise well-formed cursor: 400, not 500.
    const page = await search({ q: "northwind", limit: 1 });
    const position = JSON.parse(Buffer.from(page.body.nextCursor as string, "base64url").toString("utf8")) as unknown[];
    position[2] = "usr\u0000x";
    const nul = await search({ q: "northwind", limit: 1, cursor: Buffer.from(JSON.stringify(position)).toString("base64url") });
    expect(nul.status, JSON.stringify(nul.body)).toBe(400);
    expect(nul.body.errors[0].field).toBe("query.cursor");
  });

  it("refuses a cursor another search returned (400 naming query.cursor); the same words typed differently page on", async () => {
    const first = await search({ q: "northwind", limit: 1 });
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const other = await search({ q: "john", limit: 1, cursor: first.body.nextCursor as string });
    expect(other.status).toBe(400);
    expect(other.headers["content-type"]).toContain("application/problem+json");
    expect(other.body.errors).toEqual([expect.objectContaining({ field: "query.cursor" })]);
    const same = await search({ q: "  NorthWind ", limit: 1, cursor: first.body.nextCursor as string });
    expect(same.status).toBe(200);
    expect(same.body.hits[0].id).not.toBe(first.body.hits[0].id);
  });

  it("treats LIKE wildcards as plain text", async () => {
    expect(await hitsFor("%")).toEqual([]);
    expect(await hitsFor("_____")).toEqual([]);
  });

  it("refuses a malformed X-Ticket-Id (400 naming the header) rather than recording the read without its ticket", async () => {
    const db = deps.database.db;
    const entries = async () => Number((await db.selectFrom("audit_log").select((eb) => eb.fn.countAll().as("n")).executeTakeFirstOrThrow()).n);
    const before = await entries();
    for (const ticket of ["12ab", "0", "-1", "1".repeat(20)]) {
      const answers = {
        search: await search({ q: "john" }, { "X-Ticket-Id": ticket }),
        context: await request(app).get("/api/context").query({ email: "john@northwind.example" }).set("Authorization", `Bearer ${token}`).set("X-Ticket-Id", ticket),
        users: await request(app).get("/api/accounts/acc_t_north/users").set("Authorization", `Bearer ${token}`).set("X-Ticket-Id", ticket),
      };
      for (const [route, res] of Object.entries(answers)) {
        expect(res.status, `${ticket} ${route}`).toBe(400);
        expect(res.headers["content-type"]).toContain("application/problem+json");
        expect(res.body.errors).toEqual([expect.objectContaining({ field: "headers.X-Ticket-Id" })]);
      }
    }
    expect(await entries()).toBe(before);
    expect((await search({ q: "john" }, { "X-Ticket-Id": "1003" })).status).toBe(200);
  });

  it("needs a session, and audits each search with the ticket it was for", async () => {
    expect((await request(app).get("/api/search").query({ q: "john" })).status).toBe(401);
    const res = await search({ q: "cus_NwTraders42" }, { "X-Ticket-Id": "1003", "X-Request-Id": "req-search-audit-1" });
    expect(res.status).toBe(200);
    const entry = await deps.database.db.selectFrom("audit_log").selectAll().where("request_id", "=", "req-search-audit-1").execute();
    expect(entry).toHaveLength(1);
    expect(entry[0]).toMatchObject({ action: "search.run", outcome: "succeeded", ticket_id: "1003", actor_zendesk_user_id: AGENT.readOnly.zendeskUserId, target_type: "search" });
    expect(entry[0]?.after).toMatchObject({ q: "cus_NwTraders42", returned: 1 });
  });
});
