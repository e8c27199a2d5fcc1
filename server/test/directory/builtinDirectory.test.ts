import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BuiltinDirectory } from "../../src/directory/builtinDirectory.js";
import type { Database } from "../../src/db/database.js";
import { createTestDeps, databaseKinds } from "../support/databases.js";
import { addAccount, addUser, SETUP_TIMEOUT_MS } from "../lookup/fixtures.js";

/**
 * DIRECTORY_PROVIDER=builtin: an email lookup over Steward's own tables compares addresses as the
 * requester lookup does (emailKey: NFC, then lower case), whatever spelling each side has.
 */
describe.each(databaseKinds)("built-in directory lookups on %s", (kind) => {
  let database: Database;
  let directory: BuiltinDirectory;

  beforeAll(async () => {
    ({ database } = await createTestDeps(kind, { env: { DATA_DIR: "memory" } }));
    directory = new BuiltinDirectory(database.db);
    const db = database.db;
    await addAccount(db, { id: "acc_t_idn", name: "Núñez & Adler" });
    // Stored as the product wrote them: mixed case, composed (NFC) or decomposed (NFD).
    await addUser(db, { id: "usr_t_jose", account_id: "acc_t_idn", email: "José@Example.com", name: "José Núñez" });
    await addUser(db, { id: "usr_t_zoe", account_id: "acc_t_idn", email: "Zoe\u0308@example.org", name: "Zoë Adler" });
    await addUser(db, { id: "usr_t_dima", account_id: "acc_t_idn", email: "ДМИТРИЙ@пример.рф", name: "Dmitri" });
    // Another mailbox (no accent), and a deleted user with the same address: neither is José.
    await addUser(db, { id: "usr_t_jose_plain", account_id: "acc_t_idn", email: "jose@example.com", name: "Jose Plain" });
    await addUser(db, { id: "usr_t_jose_gone", account_id: "acc_t_idn", email: "jose\u0301@example.com", name: "José Gone", status: "deleted" });
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await database.close();
  });

  /** A decomposed spelling prints like the composed one: a failure names which it was. */
  const spelt = (email: string) => (email === email.normalize("NFC") ? email : `${email} (decomposed)`);
  const idsFor = async (email: string) => (await directory.lookupUsers({ email })).users.map((u) => u.id);

  it("finds a user by email in any case, composed or decomposed, stored either way; an accent still tells two addresses apart", async () => {
    for (const email of ["josé@example.com", "JOSÉ@EXAMPLE.COM", "jose\u0301@example.com", "JOSE\u0301@Example.com"]) {
      expect(await idsFor(email), spelt(email)).toEqual(["usr_t_jose"]);
    }
    for (const email of ["zoë@example.org", "ZOË@Example.org", "zoe\u0308@example.org"]) {
      expect(await idsFor(email), spelt(email)).toEqual(["usr_t_zoe"]);
    }
    expect(await idsFor("дмитрий@пример.рф")).toEqual(["usr_t_dima"]);
    expect(await idsFor("JOSE@example.com")).toEqual(["usr_t_jose_plain"]);
    const answer = await directory.lookupUsers({ email: "jose\u0301@example.com" });
    expect(answer.accounts.map((a) => a.id)).toEqual(["acc_t_idn"]);
    expect(answer.users[0]).toMatchObject({ id: "usr_t_jose", email: "José@Example.com" });
  });

  it("an email and an id together: the user must have both", async () => {
    expect((await directory.lookupUsers({ email: "jose\u0301@example.com", id: "usr_t_jose" })).users.map((u) => u.id)).toEqual(["usr_t_jose"]);
    expect((await directory.lookupUsers({ email: "jose\u0301@example.com", id: "usr_t_zoe" })).users).toEqual([]);
  });
});
