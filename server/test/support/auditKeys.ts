import type { Kysely } from "kysely";
import type { AuditVerification } from "../../../shared/schemas/audit.js";
import { sealPending } from "../../src/audit/sealer.js";
import { auditKeysFromSecret, installAuditKeys, type AuditKeys } from "../../src/audit/sealKey.js";
import { verifyAuditChain } from "../../src/audit/verifyChain.js";
import type { DB } from "../../src/db/schema.js";
import { TEST_AUDIT_SECRET } from "./testConfig.js";

/** A fixed audit key for every test (setup file): appendAudit MACs with it, sealers and verify use it. */
export { TEST_AUDIT_SECRET };
export const TEST_AUDIT_KEYS = auditKeysFromSecret(TEST_AUDIT_SECRET);
installAuditKeys(TEST_AUDIT_KEYS);

/** What tests that once walked the hash chain now do: seal what is committed, then a full verify. */
export async function sealAndVerify(db: Kysely<DB>, keys: AuditKeys = TEST_AUDIT_KEYS): Promise<AuditVerification> {
  await sealPending(db, keys);
  return verifyAuditChain(db, keys, { mode: "full", record: false });
}
