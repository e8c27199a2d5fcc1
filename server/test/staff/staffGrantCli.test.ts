import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI_TIMEOUT, runSteward } from "../support/cli.js";
import { openDatabase, type Database } from "../../src/db/database.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import { createTestDatabase } from "../support/databases.js";

const staffGrant = (args: string[]) => runSteward(["staff", "grant", ...args], { STEWARD_MODE: "demo" });

async function check(db: Database, zendeskUserId: string) {
  const staff = await db.db.selectFrom("staff").selectAll().where("zendesk_user_id", "=", zendeskUserId).executeTakeFirstOrThrow();
  const audit = await db.db.selectFrom("audit_log").selectAll().where("target_id", "=", staff.id).orderBy("seq").execute();
  return { staff, audit };
}

describe("npm run steward -- staff grant", () => {
  it("bootstraps an admin on PostgreSQL, audited as Steward's CLI, and re-activates on a second grant", async () => {
    const db = await createTestDatabase("postgres");
    try {
      const url = db.location;
      const first = await staffGrant(["--zendesk-user", "424242", "--role", "admin", "--email", "boot@example.com", "--name", "Boot Admin", "--database", url]);
      expect(first.stderr).toBe("");
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/^granted: stf_[0-9a-f]+ \(Zendesk user 424242, boot@example.com\) is admin/);
      let { staff, audit } = await check(db, "424242");
      expect(staff).toMatchObject({ panel_role: "admin", active: true, email: "boot@example.com", name: "Boot Admin" });
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ action: "staff.grant", outcome: "succeeded", actor_staff_id: null, before: null, ticket_id: null });
      expect(audit[0]?.actor_system).toMatch(/^cli:/);

      await db.db.updateTable("staff").set({ active: false }).where("id", "=", staff.id).execute();
      const again = await staffGrant(["--zendesk-user", "424242", "--role", "admin", "--database", url]);
      expect(again.stdout).toMatch(/^granted: .* is admin\n/);
      ({ staff, audit } = await check(db, "424242"));
      expect(staff.active).toBe(true);
      expect(audit.map((a) => a.action)).toEqual(["staff.grant", "staff.grant"]);
      expect(audit[1]?.after).toMatchObject({ active: true });

      const bad = await staffGrant(["--zendesk-user", "424242", "--role", "superuser", "--database", url]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("--role: expected one of");
    } finally {
      await db.close();
    }
  }, CLI_TIMEOUT);

  it("works on a PGlite data directory (the server must not hold it open)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "steward-grant-"));
    try {
      const migrated = await openDatabase({ kind: "pglite", dataDir: dir });
      await migrateToLatest(migrated.db);
      await migrated.close();
      const res = await staffGrant(["--zendesk-user", "515151", "--role", "operations", "--data-dir", dir]);
      expect(res.code).toBe(0);
      const db = await openDatabase({ kind: "pglite", dataDir: dir });
      try {
        const { staff, audit } = await check(db, "515151");
        expect(staff.panel_role).toBe("operations");
        expect(audit).toHaveLength(1);
      } finally {
        await db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, CLI_TIMEOUT);
});
