import { sql, type RawBuilder, type SqlBool } from "kysely";
import { actionRules, actionNames, type ActionName } from "../../../shared/actions.js";
import { flagParams, LOOKUP_ACTIONS, type FlagId } from "../../../shared/flags.js";
import { cappedActions } from "../staff/caps.js";
import type { WorkingHours } from "./workingHours.js";

/**
 * Each flag rule of shared/flags.ts as SQL on a row of `audit_log` (referenced by its table name), so
 * flags filter, count and page in the database like any other filter.
 */
const list = (values: readonly string[]) =>
  sql.join(
    values.map((v) => sql.lit(v)),
    sql`, `,
  );

/** Writes by staff that change a customer or the panel; a requester pick only says which user a ticket shows. */
const STAFF_WRITES = actionNames.filter((a) => actionRules[a].kind === "write" && actionRules[a].minRole !== "system" && a !== "context.pick");
export const staffWrite = sql<SqlBool>`(audit_log.actor_staff_id is not null and audit_log.action in (${list(STAFF_WRITES)}))`;
const lookup = sql<SqlBool>`(audit_log.actor_staff_id is not null and audit_log.action in (${list(LOOKUP_ACTIONS)}))`;

/** A JSON number at a constant path of `after`, else null (never a cast error on odd data). */
function afterNumber(path: readonly string[], column: "after" | "before" = "after"): RawBuilder<number | null> {
  const at = sql.raw(`audit_log.${column} #> '{${path.join(",")}}'`);
  return sql<number | null>`(case when jsonb_typeof(${at}) = 'number' then (${at} #>> '{}')::numeric end)`;
}

/**
 * Entries written before runCommand recorded `before.cap` (value asked, cap in force): these two actions'
 * values can still be read from what they recorded, against the default caps.
 */
const recordedCapValues: Partial<Record<ActionName, readonly string[]>> = {
  "billing.credit_apply": ["creditedCents"],
  "seats.expand_temporarily": ["expansion", "seats"],
};

function capEdge(): RawBuilder<SqlBool> {
  const near: RawBuilder<SqlBool>[] = [];
  for (const [action, path] of Object.entries(recordedCapValues) as [ActionName, readonly string[]][]) {
    const limits = (actionRules[action] as { cap?: { limits: Record<string, number> } }).cap?.limits ?? {};
    for (const [role, limit] of Object.entries(limits)) {
      near.push(sql<SqlBool>`(audit_log.action = ${sql.lit(action)} and audit_log.actor_role = ${sql.lit(role)} and ${afterNumber(path)} >= ${sql.lit(limit * flagParams.capEdgeShare)})`);
    }
  }
  // Every capped action since: the value against the cap in force for the agent's role when it ran.
  const value = afterNumber(["cap", "value"], "before");
  const limit = afterNumber(["cap", "limit"], "before");
  // (The action list lets the planner use migration 032's index: every arm here implies its predicate.)
  near.push(sql<SqlBool>`(audit_log.action in (${list(cappedActions)}) and ${limit} > 0 and ${value} >= ${limit} * ${sql.lit(flagParams.capEdgeShare)})`);
  const refused = sql<SqlBool>`(audit_log.outcome = 'denied' and (audit_log.error like 'over_cap:%' or audit_log.error like 'cap_exceeded:%'))`;
  return sql<SqlBool>`(${refused} or ${sql.join(near, sql` or `)})`;
}

/** Whether the instant `at` falls outside the working hours, in their time zone. */
export function outsideHoursAt(at: RawBuilder<unknown>, hours: WorkingHours): RawBuilder<SqlBool> {
  const local = sql`(${at} at time zone ${hours.timeZone})`;
  const minute = sql`(extract(hour from ${local}) * 60 + extract(minute from ${local}))`;
  return sql<SqlBool>`(extract(isodow from ${local})::int not in (${sql.join(hours.days.map((d) => sql.lit(d)))}) or ${minute} < ${sql.lit(hours.startMinute)} or ${minute} >= ${sql.lit(hours.endMinute)})`;
}

function outsideHours(hours: WorkingHours): RawBuilder<SqlBool> {
  return sql<SqlBool>`(${staffWrite} and ${outsideHoursAt(sql`audit_log.occurred_at`, hours)})`;
}

/** The entry flags the flagger stores (server/src/console/flagger.ts), decided by the entry alone. */
export function entryFlagCondition(flag: "ticket_mismatch" | "cap_edge" | "long_impersonation"): RawBuilder<SqlBool> {
  switch (flag) {
    case "ticket_mismatch":
      // The column itself (migration 020): turning every row into JSON to read it cost 1.7 s per 500k entries.
      return sql<SqlBool>`(${staffWrite} and (audit_log.ticket_snapshot ->> 'match') in ('override', 'unverified'))`;
    case "cap_edge":
      return capEdge();
    case "long_impersonation":
      return sql<SqlBool>`((audit_log.action in ('impersonation.stop', 'impersonation.expire') and ${afterNumber(["impersonation", "durationSeconds"])} > ${sql.lit(flagParams.longImpersonationMinutes * 60)})
        or (audit_log.action = 'impersonation.event' and audit_log.after ->> 'afterEnd' = 'true'))`;
  }
}

/**
 * A flag as a condition on an `audit_log` row. Stored flags are looked up (an entry shows them once it is
 * sealed and flagged, within about a second); the two that index or config decide are computed here.
 */
export function flagCondition(flag: FlagId, hours: WorkingHours): RawBuilder<SqlBool> {
  switch (flag) {
    case "lookup_without_ticket":
      return sql<SqlBool>`(${lookup} and audit_log.ticket_id is null)`;
    case "outside_hours":
      return outsideHours(hours);
    default:
      return sql<SqlBool>`exists (select 1 from audit_flag where audit_flag.flag = ${sql.lit(flag)} and audit_flag.entry_seq = audit_log.seq)`;
  }
}
