/**
 * What a team lead should look at: one table of flag rules. Each rule has an id, a one-line
 * explanation in every app language, its parameters, and where its predicate lives: `entry` rules are
 * decided by the entry alone, `window` rules look at the same agent's other entries around it. The
 * server turns each rule into a SQL condition (server/src/console/flagSql.ts), so flags filter and
 * count in the database; the console reads this table for the labels.
 */
export const LOOKUP_ACTIONS = ["context.view", "search.run", "account.view", "user.view"] as const;

export interface FlagRule {
  id: string;
  scope: "entry" | "window";
  explain: { en: string; de: string };
}

export const flagParams = {
  lookupBurst: { count: 20, minutes: 10 },
  repeatedDenials: { count: 3, minutes: 60 },
  /** A capped value at or above this share of the role's per-request limit is "at the cap edge". */
  capEdgeShare: 0.9,
  longImpersonationMinutes: 30,
} as const;

export const flagRules = [
  {
    id: "ticket_mismatch",
    scope: "entry",
    explain: {
      en: "A write whose ticket's requester is not the target's user or account (override or unverified).",
      de: "Eine Änderung, deren Ticket-Anfrager nicht der Benutzer oder das Konto des Ziels ist (Override oder ungeprüft).",
    },
  },
  {
    id: "lookup_without_ticket",
    scope: "entry",
    explain: { en: "A customer lookup made without a ticket.", de: "Eine Kundensuche ohne Ticket." },
  },
  {
    id: "lookup_burst",
    scope: "window",
    explain: {
      en: `${flagParams.lookupBurst.count} or more lookups by one agent within ${flagParams.lookupBurst.minutes} minutes.`,
      de: `${flagParams.lookupBurst.count} oder mehr Suchen eines Agenten innerhalb von ${flagParams.lookupBurst.minutes} Minuten.`,
    },
  },
  {
    id: "repeated_denials",
    scope: "window",
    explain: {
      en: `${flagParams.repeatedDenials.count} or more refusals for one agent within ${flagParams.repeatedDenials.minutes} minutes.`,
      de: `${flagParams.repeatedDenials.count} oder mehr Ablehnungen für einen Agenten innerhalb von ${flagParams.repeatedDenials.minutes} Minuten.`,
    },
  },
  {
    id: "cap_edge",
    scope: "entry",
    explain: {
      en: `A capped action at ${flagParams.capEdgeShare * 100}% or more of the role's limit, or refused over the cap.`,
      de: `Eine begrenzte Aktion bei ${flagParams.capEdgeShare * 100} % oder mehr des Rollenlimits, oder wegen des Limits abgelehnt.`,
    },
  },
  {
    id: "long_impersonation",
    scope: "entry",
    explain: {
      en: `An impersonation session longer than ${flagParams.longImpersonationMinutes} minutes, or product events after it ended.`,
      de: `Eine Impersonation länger als ${flagParams.longImpersonationMinutes} Minuten, oder Ereignisse im Produkt nach ihrem Ende.`,
    },
  },
  {
    id: "outside_hours",
    scope: "entry",
    explain: { en: "A write outside working hours (CONSOLE_WORKING_HOURS).", de: "Eine Änderung außerhalb der Arbeitszeit (CONSOLE_WORKING_HOURS)." },
  },
] as const satisfies readonly FlagRule[];

export type FlagId = (typeof flagRules)[number]["id"];
export const flagIds = flagRules.map((r) => r.id) as [FlagId, ...FlagId[]];

/** Action groups are the action name's prefix (user.suspend → user). */
export function actionGroupOf(action: string): string {
  return action.split(".")[0] ?? action;
}
