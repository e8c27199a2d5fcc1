import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry } from "../../../shared/audit.js";
import { GENESIS_HASH, hashAuditEntry, type HashedFields } from "../../src/audit/auditHash.js";
import { buildEntry, type AuditInput } from "../../src/audit/auditLog.js";
import { toAuditEntry, toAuditRow } from "../../src/audit/auditRow.js";
import { verifyAuditChain } from "../../src/audit/verifyChain.js";
import type { Database } from "../../src/db/database.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";
import { agent, HOOK_TIMEOUT } from "./fixtures.js";

/**
 * Known answers: a fixed entry and a fixed chain hash to fixed hex strings. Any change to what the
 * hash covers (a field dropped, renamed, reordered, a serialisation change) breaks these.
 */
const FIXED: HashedFields = {
  id: "2f0c5a6e-8d7b-4c1e-9f3a-1b2c3d4e5f60",
  seq: 7,
  occurredAt: "2026-11-24T12:00:00.123Z",
  actor: { staffId: "stf_test_1", zendeskUserId: "7001", email: "Agent1@Example.test", panelRole: "support_full", system: null },
  action: "user.suspend",
  target: { type: "user", id: "usr_demo_001_1", accountId: "acc_demo_001" },
  ticketId: "1001",
  reason: "customer asked on the phone",
  before: { status: "active", version: 3 },
  after: { status: "suspended", version: 4 },
  outcome: "succeeded",
  error: null,
  requestId: "req-42",
  operationId: "op-7",
  prevHash: "ab".repeat(32),
};

/** The fixed entry serialised by hand: keys sorted at every level, null kept, no spaces. */
const FIXED_CANONICAL =
  '{"action":"user.suspend",' +
  '"actor":{"email":"Agent1@Example.test","panelRole":"support_full","staffId":"stf_test_1","system":null,"zendeskUserId":"7001"},' +
  '"after":{"status":"suspended","version":4},' +
  '"before":{"status":"active","version":3},' +
  '"error":null,' +
  '"id":"2f0c5a6e-8d7b-4c1e-9f3a-1b2c3d4e5f60",' +
  '"occurredAt":"2026-11-24T12:00:00.123Z",' +
  '"operationId":"op-7",' +
  '"outcome":"succeeded",' +
  `"prevHash":"${"ab".repeat(32)}",` +
  '"reason":"customer asked on the phone",' +
  '"requestId":"req-42",' +
  '"seq":7,' +
  '"target":{"accountId":"acc_demo_001","id":"usr_demo_001_1","type":"user"},' +
  '"ticketId":"1001"}';

const FIXED_HASH = "4c5ae0bcb4834ef51fa51c42b3286a6e4d2ea7834053786937680f1eaddfdcef";

/** Every hashed field, nested ones by path, with a different value of the same type. */
const VARIANTS: [string, (e: HashedFields) => HashedFields][] = [
  ["id", (e) => ({ ...e, id: "2f0c5a6e-8d7b-4c1e-9f3a-1b2c3d4e5f61" })],
  ["seq", (e) => ({ ...e, seq: 8 })],
  ["occurredAt", (e) => ({ ...e, occurredAt: "2026-11-24T12:00:00.124Z" })],
  ["actor.staffId", (e) => ({ ...e, actor: { ...e.actor, staffId: "stf_test_2" } })],
  ["actor.zendeskUserId", (e) => ({ ...e, actor: { ...e.actor, zendeskUserId: "7002" } })],
  ["actor.email", (e) => ({ ...e, actor: { ...e.actor, email: "agent1@example.test" } })],
  ["actor.panelRole", (e) => ({ ...e, actor: { ...e.actor, panelRole: "admin" } })],
  ["actor.system", (e) => ({ ...e, actor: { ...e.actor, system: "sweeper" } })],
  ["action", (e) => ({ ...e, action: "user.unblock" })],
  ["target.type", (e) => ({ ...e, target: { ...e.target, type: "account" } })],
  ["target.id", (e) => ({ ...e, target: { ...e.target, id: "usr_demo_001_2" } })],
  ["target.accountId", (e) => ({ ...e, target: { ...e.target, accountId: "acc_demo_002" } })],
  ["ticketId", (e) => ({ ...e, ticketId: "1002" })],
  ["reason", (e) => ({ ...e, reason: "customer asked on the phone." })],
  ["before", (e) => ({ ...e, before: { status: "active", version: 2 } })],
  ["after", (e) => ({ ...e, after: { status: "suspended", version: 5 } })],
  ["outcome", (e) => ({ ...e, outcome: "failed" })],
  ["error", (e) => ({ ...e, error: "boom" })],
  ["requestId", (e) => ({ ...e, requestId: "req-43" })],
  ["operationId", (e) => ({ ...e, operationId: "op-8" })],
  ["prevHash", (e) => ({ ...e, prevHash: "ac".repeat(32) })],
];

/** A fixed 3-entry chain: write, denial, system action, each input and place fixed. */
const CHAIN_INPUTS: AuditInput[] = [
  {
    actor: agent(1),
    action: "user.suspend",
    target: { type: "user", id: "usr_demo_001_1", accountId: "acc_demo_001" },
    ticketId: "1001",
    reason: "customer asked on the phone",
    before: { status: "active", version: 3 },
    after: { status: "suspended", version: 4 },
    outcome: "succeeded",
    requestId: "req-1",
    operationId: "op-1",
  },
  {
    actor: agent(2, "support_read_only"),
    action: "billing.credit_apply",
    target: { type: "account", id: "acc_demo_002", accountId: "acc_demo_002" },
    ticketId: "1002",
    reason: "goodwill",
    outcome: "denied",
    error: "action_not_allowed: billing.credit_apply needs the support_full panel role; you have support_read_only",
    requestId: "req-2",
  },
  {
    actor: { kind: "system", component: "sweeper" },
    action: "seats.expansion_expire",
    target: { type: "account", id: "acc_demo_013", accountId: "acc_demo_013" },
    ticketId: null,
    before: { seatsLicensed: 10 },
    after: { seatsLicensed: 7 },
    outcome: "succeeded",
    operationId: "op-3",
  },
];
const CHAIN_HASHES = [
  "2caa49f22b01f5c2c2051d7f4f67fd68c69098d4bf40a3874d0ce83bab71657e",
  "172859705390023feb9cb0fd6013072d93206e2023ce179a0b6bc85a3a47f501",
  "f019d3705c192dc28acc3f0d7a182cdbb60f617ad5d1d84a03db61b25e7e76ac",
];

function fixedChain(): AuditEntry[] {
  const entries: AuditEntry[] = [];
  CHAIN_INPUTS.forEach((input, i) => {
    entries.push(
      buildEntry(input, {
        id: `00000000-0000-4000-8000-00000000000${i + 1}`,
        seq: i + 1,
        occurredAt: `2026-11-24T12:00:0${i}.000Z`,
        prevHash: entries[i - 1]?.hash ?? GENESIS_HASH,
      }),
    );
  });
  return entries;
}

describe("audit hash known answers", () => {
  it("hashes the fixed entry to a fixed value: sha256 of the domain line and the canonical JSON of all fields", () => {
    const independent = createHash("sha256").update(`steward-audit-v1\n${FIXED_CANONICAL}`).digest("hex");
    expect(independent).toBe(FIXED_HASH);
    expect(hashAuditEntry(FIXED)).toBe(FIXED_HASH);
    // The stored hash is not part of what is hashed.
    expect(hashAuditEntry({ ...FIXED, hash: "f".repeat(64) } as AuditEntry)).toBe(FIXED_HASH);
  });

  it("covers every field: changing any one of them changes the hash", () => {
    expect(VARIANTS.map(([path]) => path.split(".")[0]).filter((k, i, all) => all.indexOf(k) === i).sort()).toEqual(Object.keys(FIXED).sort());
    const changed = VARIANTS.filter(([, vary]) => hashAuditEntry(vary(FIXED)) === FIXED_HASH).map(([path]) => path);
    expect(changed).toEqual([]);
  });

  it("builds the fixed chain to fixed hashes, each linked to the one before", () => {
    const chain = fixedChain();
    expect(chain.map((e) => e.hash)).toEqual(CHAIN_HASHES);
    expect(chain.map((e) => e.prevHash)).toEqual([GENESIS_HASH, CHAIN_HASHES[0], CHAIN_HASHES[1]]);
    expect(chain[1]?.actor).toEqual({ staffId: "stf_test_2", zendeskUserId: "7002", email: "Agent2@Example.test", panelRole: "support_read_only", system: null });
    expect(chain[2]?.actor).toEqual({ staffId: null, zendeskUserId: null, email: null, panelRole: null, system: "sweeper" });
    expect(chain[1]).toMatchObject({ before: null, after: null, operationId: null });
    expect(chain[2]).toMatchObject({ reason: null, error: null, requestId: null });
  });
});

describe.each(databaseKinds)("the fixed chain stored on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
    await database.db.insertInto("audit_log").values(fixedChain().map(toAuditRow)).execute();
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await database.close();
  }, HOOK_TIMEOUT);

  it("reads back as the entries that were hashed and verifies to the known head", async () => {
    const rows = await database.db.selectFrom("audit_log").selectAll().orderBy("seq").execute();
    expect(rows.map(toAuditEntry)).toEqual(fixedChain());
    expect(await verifyAuditChain(database.db)).toEqual({ ok: true, entries: 3, headSeq: 3, headHash: CHAIN_HASHES[2] });
    expect(await verifyAuditChain(database.db, { anchor: { seq: 2, hash: CHAIN_HASHES[1] as string } })).toMatchObject({ ok: true });
    expect(await verifyAuditChain(database.db, { anchor: { seq: 2, hash: CHAIN_HASHES[0] as string } })).toMatchObject({ ok: false, brokenAt: 2, reason: "changed" });
  });
});
