import type { StaffActor } from "../../src/actor.js";
import { issueSessionToken } from "../../src/auth/sessionToken.js";
import type { AppDeps } from "../../src/deps.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";

export type DemoRole = (typeof DEMO_AGENTS)[number]["role"];

export function demoActor(role: DemoRole): StaffActor {
  const a = DEMO_AGENTS.find((x) => x.role === role);
  if (!a) throw new Error(`no demo agent with role ${role}`);
  return { kind: "staff", staffId: a.id, zendeskUserId: a.zendeskUserId, email: a.email, name: a.name, panelRole: a.role };
}

/** A real session token for a demo agent (the seeded staff rows back it). */
export async function bearerFor(deps: AppDeps, role: DemoRole): Promise<string> {
  const actor = demoActor(role);
  const { token } = await issueSessionToken(deps, { staffId: actor.staffId, zendeskUserId: actor.zendeskUserId });
  return `Bearer ${token}`;
}

/** RFC 4180 records (quoted fields with commas, quotes and line breaks). */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = "";
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      record.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      record.push(field);
      records.push(record);
      record = [];
      field = "";
      i++;
    } else field += c;
  }
  if (field || record.length) records.push([...record, field]);
  return records;
}
