import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { DirectoryStore, type AccountRow, type UserRow } from "../../../examples/demo-product/src/directory/store.js";

/**
 * The demo product's own store (examples/demo-product, always PGlite): its email lookups compare
 * addresses as Steward does (NFC, then lower case), so a ticket's `Jose\u0301@…` finds `José@…`.
 */
const account: AccountRow = { id: "acc_1", name: "Acme", domain: "acme.test", status: "active", plan: "team", seatsLicensed: 5, billingCustomerId: null, version: 1 };
const user = (id: string, email: string, status = "active"): UserRow => ({ id, accountId: "acc_1", email, name: id, role: "member", status, idpId: null, staff: false, protected: false, settings: {}, version: 1 });

/** A decomposed spelling prints like the composed one: a failure names which it was. */
const spelt = (email: string) => (email === email.normalize("NFC") ? email : `${email} (decomposed)`);

describe("the demo product's directory store", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("finds a user by email in any case, composed or decomposed, stored either way; an accent still tells two addresses apart", async () => {
    const store = await DirectoryStore.open();
    try {
      await store.load([account], [
        user("usr_jose", "José@Example.com"),
        user("usr_zoe", "Zoe\u0308@example.org"),
        user("usr_dima", "ДМИТРИЙ@пример.рф"),
        user("usr_jose_plain", "jose@example.com"),
        user("usr_jose_gone", "jose\u0301@example.com", "deleted"),
      ]);
      const idsFor = async (email: string) => (await store.lookupWithAccounts({ email })).users.map((u) => u.id);
      for (const email of ["josé@example.com", "JOSÉ@EXAMPLE.COM", "jose\u0301@example.com", "JOSE\u0301@Example.com"]) {
        expect(await idsFor(email), spelt(email)).toEqual(["usr_jose"]);
      }
      for (const email of ["zoë@example.org", "ZOË@Example.org", "zoe\u0308@example.org"]) {
        expect(await idsFor(email), spelt(email)).toEqual(["usr_zoe"]);
      }
      expect(await idsFor("дмитрий@пример.рф")).toEqual(["usr_dima"]);
      expect(await idsFor("JOSE@example.com")).toEqual(["usr_jose_plain"]);
      expect((await store.lookupWithAccounts({ email: "jose\u0301@example.com" })).accounts.map((a) => a.id)).toEqual(["acc_1"]);
      // Answered as stored: the key is the product's own column, never part of the contract's user.
      expect((await store.lookupWithAccounts({ email: "jose\u0301@example.com" })).users[0]).toEqual(expect.objectContaining({ email: "José@Example.com" }));
      expect(Object.keys((await store.lookupWithAccounts({ email: "josé@example.com" })).users[0] ?? {})).not.toContain("email_key");
    } finally {
      await store.close();
    }
  });

  it("search finds a user by their email, or a part of it, in any case, composed or decomposed, stored either way", async () => {
    const store = await DirectoryStore.open();
    try {
      await store.load([account], [user("usr_jose", "José@Example.com"), user("usr_zoe", "Zoe\u0308@example.org"), user("usr_jose_plain", "jose@example.com")]);
      const idsFor = async (q: string) => (await store.search(q, 20)).users.map((u) => u.id);
      for (const q of ["josé@example.com", "JOSÉ@EXAMPLE", "jose\u0301@example.com", "JOSE\u0301@"]) {
        expect(await idsFor(q), spelt(q)).toEqual(["usr_jose"]);
      }
      for (const q of ["zoë@example.org", "ZOË@Example", "zoe\u0308@", "ZOE\u0308"]) {
        expect(await idsFor(q), spelt(q)).toEqual(["usr_zoe"]);
      }
      expect(await idsFor("JOSE@example")).toEqual(["usr_jose_plain"]);
      expect(await idsFor("@example.com")).toEqual(["usr_jose", "usr_jose_plain"]);
      expect((await store.search("zoe\u0308@example.org", 20)).accounts.map((a) => a.id)).toEqual(["acc_1"]);
    } finally {
      await store.close();
    }
  });

  it("search reads the email key's trigram index", async () => {
    const store = await DirectoryStore.open();
    try {
      await store.load([account], [user("usr_zoe", "Zoë@example.org")]);
      const asked = vi.spyOn(store.db, "query");
      await store.search("ZOE\u0308@", 20);
      const [text, params] = asked.mock.calls.find(([q]) => /from users/.test(q)) ?? ["", []];
      asked.mockRestore();
      // A handful of rows is planned as a scan of them all, or a walk of the primary key in id order; without
      // those the planner shows the indexes it would use for the condition.
      const plan = await store.db.transaction(async (tx) => {
        await tx.exec("set local enable_seqscan = off; set local enable_indexscan = off");
        return (await tx.query<{ "QUERY PLAN": string }>(`explain ${text}`, params)).rows.map((r) => r["QUERY PLAN"]).join("\n");
      });
      expect(plan).toMatch(/Bitmap Index Scan on users_email_key_trgm/);
    } finally {
      await store.close();
    }
  });

  it("a data directory from before the email key: its users are found by any spelling once reopened", async () => {
    const dir = mkdtempSync(join(tmpdir(), "demo-product-store-"));
    dirs.push(dir);
    const old = await DirectoryStore.open(dir);
    await old.load([account], []);
    // As the store wrote users before it kept a key (no email_key).
    await old.db.query(`insert into users (id, account_id, email, name, role, status) values ('usr_old', 'acc_1', 'Ünal@Bücher.example', 'Ünal', 'member', 'active')`);
    await old.close();
    const store = await DirectoryStore.open(dir);
    try {
      expect((await store.lookupWithAccounts({ email: "u\u0308nal@bu\u0308cher.example" })).users.map((u) => u.id)).toEqual(["usr_old"]);
      expect((await store.db.query(`select count(*)::int as n from users where email_key is null`)).rows).toEqual([{ n: 0 }]);
    } finally {
      await store.close();
    }
  });
});
