import { auditKeysFromSecret, installAuditKeys } from "../../src/audit/sealKey.js";

/** A fixed audit key for every test (setup file): appendAudit MACs with it, sealers and verify use it. */
export const TEST_AUDIT_SECRET = "5eed".repeat(16);
export const TEST_AUDIT_KEYS = auditKeysFromSecret(TEST_AUDIT_SECRET);
installAuditKeys(TEST_AUDIT_KEYS);
