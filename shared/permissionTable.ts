import { actionRules, type ActionRule } from "./actions.js";
import { panelRoles, roleAtLeast, type PanelRole } from "./roles.js";

const ROLE_HEADINGS: Record<PanelRole, string> = {
  support_read_only: "Read-only",
  support_full: "Support",
  operations: "Operations",
  admin: "Admin",
};

const UNIT: Record<NonNullable<ActionRule["cap"]>["unit"], (n: number) => string> = {
  days: (n) => `${n} d`,
  hours: (n) => `${n} h`,
  minutes: (n) => `${n} min`,
  cents: (n) => `$${(n / 100).toLocaleString("en-US", { maximumFractionDigits: 2 })}`,
  seats: (n) => `${n} seats`,
};

function cell(rule: ActionRule, role: PanelRole): string {
  if (rule.minRole === "system" || !roleAtLeast(role, rule.minRole)) return "";
  const limit = rule.cap?.limits[role];
  const modes = rule.modes ? Object.entries(rule.modes.minRoles).filter(([, min]) => roleAtLeast(role, min)).map(([mode]) => mode.replace(/_/g, "-")) : [];
  const modeNote = modes.length ? ` (${modes.join(", ")})` : "";
  return limit === undefined ? `✓${modeNote}` : `✓ ≤ ${UNIT[rule.cap?.unit ?? "days"](limit)}${modeNote}`;
}

/**
 * The permission table from shared/actions.ts as Markdown, for the README: one row per action, a
 * column per panel role (✓, with the default cap), and system actions marked as Steward's own.
 */
export function renderPermissionTable(rules: Record<string, ActionRule> = actionRules): string {
  const header = `| Action | What it does | ${panelRoles.map((r) => ROLE_HEADINGS[r]).join(" | ")} |`;
  const rule = `|---|---|${panelRoles.map(() => ":-:").join("|")}|`;
  const rows = Object.entries(rules).map(([name, r]) => {
    const notes = [r.kind === "read" ? "" : r.destructive ? " (destructive: preview + confirm)" : "", r.minRole === "system" ? " (done by Steward itself)" : ""].join("");
    return `| \`${name}\` | ${r.summary.replace(/\|/g, "\\|")}${notes} | ${panelRoles.map((role) => cell(r, role)).join(" | ")} |`;
  });
  return [header, rule, ...rows].join("\n") + "\n\nCaps are defaults; admins change them with `PUT /api/caps` (audited as `staff.caps_change`).\n";
}
