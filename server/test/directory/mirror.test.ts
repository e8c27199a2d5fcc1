import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DirectoryAccount, DirectoryUser } from "../../../shared/directory/contract.js";
import type { Database } from "../../src/db/database.js";
import { isMirrored, markMissingUsersDeleted, mergeAnswers, mirrorDirectory } from "../../src/directory/mirror.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";

/**
 * The read cache's "already holds it" check, which lets a read that finds nothing changed at the
 * product skip the upsert (and its row locks): true only when every value the upsert would write is
 * there already, and — for an account read — no other live user is cached on the account.
 */
const NOW = new Date("2026-03-02T10:00:00Z");
const account: DirectoryAccount = { id: "acc_m1", name: "Mirror Co", domain: "mirror.test", status: "active", plan: "team", seatsLicensed: 5, billingCustomerId: null, version: 3 };
const ann: DirectoryUser = { id: "usr_m1", accountId: "acc_m1", email: "ann@mirror.test", name: "Ann", role: "owner", status: "active", idpId: "auth0|ann", staff: false, protected: false, settings: { language: "de", weekly_digest: true }, version: 7 };
const bob: DirectoryUser = { ...ann, id: "usr_m2", email: "bob@mirror.test", name: "Bob", role: "member", idpId: null, settings: {}, version: 2 };

describe.each(databaseKinds)("the directory cache on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  }, 120_000);
  // Each test starts from the product's answer as just mirrored: the tests below mark Bob deleted and
  // change Ann's settings, and mirroring the answer again puts both back, whichever test ran before.
  beforeEach(async () => {
    await mirrorDirectory(database.db, { accounts: [account], users: [ann, bob] }, { now: NOW, askedAt: NOW });
  });
  afterAll(() => database?.close());

  const complete = { accountId: account.id, userIds: [ann.id, bob.id] };

  it("holds an answer it has just mirrored, with and without the account's full user list", async () => {
    expect(await isMirrored(database.db, { accounts: [account], users: [ann, bob] })).toBe(true);
    expect(await isMirrored(database.db, { accounts: [account], users: [ann, bob] }, complete)).toBe(true);
    expect(await isMirrored(database.db, { accounts: [], users: [] })).toBe(true);
  });

  it("does not hold it when any mirrored value differs (settings and the staff flag included), or a row is missing", async () => {
    const variants: [string, { accounts: DirectoryAccount[]; users: DirectoryUser[] }][] = [
      ["account status", { accounts: [{ ...account, status: "suspended" }], users: [] }],
      ["account version", { accounts: [{ ...account, version: 4 }], users: [] }],
      ["account domain to null", { accounts: [{ ...account, domain: null }], users: [] }],
      ["user role", { accounts: [], users: [{ ...ann, role: "admin" }] }],
      ["user idp id to null", { accounts: [], users: [{ ...ann, idpId: null }] }],
      ["user settings, same version", { accounts: [], users: [{ ...ann, settings: { language: "fr", weekly_digest: true } }] }],
      ["user staff flag, same version", { accounts: [], users: [{ ...ann, staff: true }] }],
      ["unknown user", { accounts: [], users: [{ ...bob, id: "usr_m3" }] }],
      ["unknown account", { accounts: [{ ...account, id: "acc_m2" }], users: [] }],
    ];
    for (const [label, answer] of variants) expect(await isMirrored(database.db, answer), label).toBe(false);
  });

  it("for an account's full list: not held while the cache has a live user there the product no longer lists, held once it is marked deleted", async () => {
    const onlyAnn = { accountId: account.id, userIds: [ann.id] };
    expect(await isMirrored(database.db, { accounts: [account], users: [ann] }, onlyAnn)).toBe(false);
    await markMissingUsersDeleted(database.db, account.id, onlyAnn.userIds, { now: NOW, askedAt: NOW });
    expect(await isMirrored(database.db, { accounts: [account], users: [ann] }, onlyAnn)).toBe(true);
  });

  it("a settings change at the same version reaches the cache (the upsert compares what the check compares)", async () => {
    const changed = { ...ann, settings: { language: "es" } };
    await mirrorDirectory(database.db, { accounts: [], users: [changed] }, { now: NOW, askedAt: NOW });
    const row = await database.db.selectFrom("users").select(["directory_settings"]).where("id", "=", ann.id).executeTakeFirstOrThrow();
    expect(row.directory_settings).toEqual({ language: "es" });
    expect(await isMirrored(database.db, { accounts: [], users: [changed] })).toBe(true);
  });

  it("orders answers by when they were asked: an earlier one changes nothing, a tie or a later one writes, and a row no answer wrote takes any", async () => {
    const later = new Date(NOW.getTime() + 1_000);
    const nameOf = async () => (await database.db.selectFrom("users").select("name").where("id", "=", ann.id).executeTakeFirstOrThrow()).name;
    await mirrorDirectory(database.db, { accounts: [], users: [{ ...ann, name: "Ann Later" }] }, { now: later, askedAt: later });
    await mirrorDirectory(database.db, { accounts: [], users: [{ ...ann, name: "Ann Earlier", version: 99 }] }, { now: later, askedAt: NOW });
    expect(await nameOf()).toBe("Ann Later");
    await markMissingUsersDeleted(database.db, account.id, [bob.id], { now: later, askedAt: NOW });
    expect(await database.db.selectFrom("users").select("status").where("id", "=", ann.id).executeTakeFirstOrThrow()).toEqual({ status: "active" });
    await mirrorDirectory(database.db, { accounts: [], users: [{ ...ann, name: "Ann Same Time", version: 1 }] }, { now: later, askedAt: later });
    expect(await nameOf()).toBe("Ann Same Time");
    await database.db.updateTable("users").set({ directory_asked_at: null }).where("id", "=", ann.id).execute();
    await mirrorDirectory(database.db, { accounts: [], users: [ann] }, { now: NOW, askedAt: new Date(0) });
    expect(await nameOf()).toBe("Ann");
  });
});

describe("mergeAnswers", () => {
  it("keeps each account and user once, the highest version when two answers carry the same one", () => {
    const merged = mergeAnswers([
      { accounts: [account], users: [ann, bob] },
      { accounts: [{ ...account, version: 2, name: "Older" }], users: [{ ...ann, version: 8, role: "admin" }] },
    ]);
    expect(merged.accounts).toEqual([account]);
    expect(merged.users).toEqual([{ ...ann, version: 8, role: "admin" }, bob]);
  });
});
