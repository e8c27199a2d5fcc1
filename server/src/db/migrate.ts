import { Migrator, type Kysely, type Migration, type MigrationResultSet } from "kysely";
import * as m001 from "./migrations/001_domain.js";
import * as m002 from "./migrations/002_audit.js";
import * as m003 from "./migrations/003_staff_caps.js";
import * as m004 from "./migrations/004_search.js";
import * as m005 from "./migrations/005_actions.js";
import * as m006 from "./migrations/006_access_holds.js";
import * as m007 from "./migrations/007_sweep_backoff.js";
import * as m008 from "./migrations/008_audit_unknown_outcome.js";
import * as m010 from "./migrations/010_audit_seal.js";
import * as m011 from "./migrations/011_provider_operations.js";
import * as m012 from "./migrations/012_mail_lease.js";
import * as m014 from "./migrations/014_security.js";
import * as m015 from "./migrations/015_impersonation.js";
import * as m016 from "./migrations/016_operation_review.js";
import * as m017 from "./migrations/017_rate_limits.js";
import * as m018 from "./migrations/018_audit_partitions.js";
import * as m020 from "./migrations/020_verify.js";
import * as m022 from "./migrations/022_search_words.js";
import * as m024 from "./migrations/024_directory.js";
import * as m029 from "./migrations/029_staff_guard.js";
import * as m030 from "./migrations/030_rate_limits_unlogged.js";
import * as m031 from "./migrations/031_console_flag_index.js";
import * as m032 from "./migrations/032_console_cap_index.js";
import * as m033 from "./migrations/033_requester_picks.js";
import * as m035 from "./migrations/035_audit_flags.js";
import * as m036 from "./migrations/036_subscription_hints.js";
import * as m037 from "./migrations/037_account_changes_index.js";
import * as m038 from "./migrations/038_checkpoint_exports.js";
import * as m039 from "./migrations/039_deactivation_billing.js";
import * as m040 from "./migrations/040_acted_on_index.js";
import * as m041 from "./migrations/041_acted_on_own_ticket.js";
import * as m042 from "./migrations/042_directory_asked_at.js";
import * as m043 from "./migrations/043_deactivation_cancel_requested.js";
import * as m044 from "./migrations/044_audit_actor_email_key.js";
import * as m045 from "./migrations/045_audit_partition_grants.js";
import * as m046 from "./migrations/046_grant_revert_key_opened.js";
import * as m047 from "./migrations/047_steward_writes.js";
import * as m048 from "./migrations/048_console_export_links.js";
import * as m049 from "./migrations/049_export_link_heartbeat.js";
import * as m050 from "./migrations/050_header_export_streams.js";
import * as m051 from "./migrations/051_operation_claims.js";

/** The one ordered migration set, applied identically on PGlite and PostgreSQL. Add new ones at the end. */
export const migrations: Record<string, Migration> = {
  "001_domain": m001,
  "002_audit": m002,
  "003_staff_caps": m003,
  "004_search": m004,
  "005_actions": m005,
  "006_access_holds": m006,
  "007_sweep_backoff": m007,
  "008_audit_unknown_outcome": m008,
  "010_audit_seal": m010,
  "011_provider_operations": m011,
  "012_mail_lease": m012,
  "014_security": m014,
  "015_impersonation": m015,
  "016_operation_review": m016,
  "017_rate_limits": m017,
  "018_audit_partitions": m018,
  "020_verify": m020,
  "022_search_words": m022,
  "024_directory": m024,
  "029_staff_guard": m029,
  "030_rate_limits_unlogged": m030,
  "031_console_flag_index": m031,
  "032_console_cap_index": m032,
  "033_requester_picks": m033,
  "035_audit_flags": m035,
  "036_subscription_hints": m036,
  "037_account_changes_index": m037,
  "038_checkpoint_exports": m038,
  "039_deactivation_billing": m039,
  "040_acted_on_index": m040,
  "041_acted_on_own_ticket": m041,
  "042_directory_asked_at": m042,
  "043_deactivation_cancel_requested": m043,
  "044_audit_actor_email_key": m044,
  "045_audit_partition_grants": m045,
  "046_grant_revert_key_opened": m046,
  "047_steward_writes": m047,
  "048_console_export_links": m048,
  "049_export_link_heartbeat": m049,
  "050_header_export_streams": m050,
  "051_operation_claims": m051,
};

function migratorFor<T>(db: Kysely<T>): Migrator {
  return new Migrator({
    db: db as unknown as Kysely<unknown>,
    provider: { getMigrations: async () => migrations },
    migrationTableName: "steward_migrations",
    migrationLockTableName: "steward_migrations_lock",
  });
}

/** The names of the migrations not applied to this database yet, in order (all of them on an empty one); changes nothing. */
export async function pendingMigrations<T>(db: Kysely<T>): Promise<string[]> {
  return (await migratorFor(db).getMigrations()).filter((m) => m.executedAt === undefined).map((m) => m.name);
}

export async function migrateToLatest<T>(db: Kysely<T>): Promise<MigrationResultSet> {
  const migrator = migratorFor(db);
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === "Error");
    const name = failed ? ` (${failed.migrationName})` : "";
    throw new Error(`migration failed${name}: ${result.error instanceof Error ? result.error.message : String(result.error)}`, {
      cause: result.error,
    });
  }
  return result;
}
