import { describe, expect, it } from "vitest";
import type { AuditEntry } from "../../../shared/audit.js";
import { exportContentTypes, exportFilename, exportLine, exportPreamble } from "../../src/audit/auditExport.js";

/**
 * The CSV export of one entry, as a known answer: an absent value is an empty field (never "null" or a
 * placeholder), text a spreadsheet would run as a formula gets a leading ', and a field with a comma, quote
 * or line break is quoted with its quotes doubled (RFC 4180).
 */
const ENTRY: AuditEntry = {
  seq: 7,
  id: "2f0c5a6e-8d7b-4c1e-9f3a-1b2c3d4e5f60",
  occurredAt: "2026-11-24T12:00:00.123Z",
  actor: { staffId: null, zendeskUserId: null, email: null, panelRole: null, system: "reconciler" },
  action: "billing.credit_apply",
  target: { type: "account", id: "acc_demo_001", accountId: "acc_demo_001" },
  ticketId: null,
  reason: '=HYPERLINK("x"), said the customer',
  before: null,
  after: { balanceCents: -2500 },
  outcome: "succeeded",
  error: null,
  requestId: null,
  operationId: "op-7",
  ticketSnapshot: null,
  approval: null,
  mac: null,
  seal: null,
};

describe("audit export (CSV)", () => {
  it("writes empty fields for absent values, defuses formulas and quotes per RFC 4180", () => {
    expect(exportPreamble("csv").split(",")).toHaveLength(27);
    expect(exportLine("csv", ENTRY)).toBe(
      '7,2f0c5a6e-8d7b-4c1e-9f3a-1b2c3d4e5f60,2026-11-24T12:00:00.123Z,,,,,reconciler,billing.credit_apply,account,acc_demo_001,acc_demo_001,,' +
        '"\'=HYPERLINK(""x""), said the customer",succeeded,,,op-7,,"{""balanceCents"":-2500}",,,,,,,\r\n',
    );
  });

  it("writes a sealed entry's place in the chain and its entry hash (what a verify recomputes), and an absent after as an empty field", () => {
    const sealed: AuditEntry = { ...ENTRY, before: { balanceCents: 0 }, after: null, mac: "m4c", seal: { chainSeq: 12, entryHash: "e1", prevHash: "p0", hash: "h2" } };
    expect(exportLine("csv", sealed).split(",").slice(-9)).toEqual(['"{""balanceCents"":0}"', "", "", "", "m4c", "12", "p0", "h2", "e1\r\n"]);
    // Unsealed (not chained yet): the four chain fields are empty, not "null".
    expect(exportLine("csv", { ...sealed, seal: null }).split(",").slice(-4)).toEqual(["", "", "", "\r\n"]);
  });

  it("keeps every value exactly in NDJSON", () => {
    expect(JSON.parse(exportLine("ndjson", ENTRY))).toEqual(ENTRY);
  });

  it("defuses every character a spreadsheet starts a formula with, and quotes every character that would split a field", () => {
    const reasonOf = (reason: string) => exportLine("csv", { ...ENTRY, reason }).split(",")[13];
    expect(["=1", "+1", "-1", "@1", "x=1"].map(reasonOf)).toEqual(["'=1", "'+1", "'-1", "'@1", "x=1"]);
    // A leading tab is defused, and quoted like every field with a tab (a spreadsheet may split fields there).
    expect(reasonOf("\t1")).toBe('"\'\t1"');
    // A leading carriage return is both defused and quoted; so is any field with a quote or a line break.
    expect(exportLine("csv", { ...ENTRY, reason: "\r1" })).toContain(',"\'\r1",');
    expect(exportLine("csv", { ...ENTRY, reason: 'say "hi"' })).toContain(',"say ""hi""",');
    expect(exportLine("csv", { ...ENTRY, reason: "line\nbreak" })).toContain(',"line\nbreak",');
    expect(exportLine("csv", { ...ENTRY, reason: "a\rb" })).toContain(',"a\rb",');
  });

  it("quotes a field with ; or a tab, so a spreadsheet splitting there (Excel's list separator in German) starts no cell with a formula", () => {
    /** The fields of one CSV line as a spreadsheet with this separator reads them (quotes honoured, doubled quotes kept). */
    const cells = (line: string, separator: string) => {
      const out: string[] = [];
      let cell = "";
      let quoted = false;
      for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (quoted && c === '"' && line[i + 1] === '"') {
          cell += '"';
          i++;
        } else if (c === '"') quoted = !quoted;
        else if (!quoted && c === separator) {
          out.push(cell);
          cell = "";
        } else cell += c;
      }
      return [...out, cell.replace(/\r\n$/, "")];
    };
    for (const text of ["refund agreed;=HYPERLINK(CHAR(104)&A2)", "x;@SUM(1+1)*cmd|' /C calc'!A0", "a\t=1+1", "ok;-2+3"]) {
      const line = exportLine("csv", { ...ENTRY, reason: text, target: { type: "user", id: text, accountId: "acc_demo_001" } });
      for (const separator of [",", ";", "\t"]) {
        const formulas = cells(line, separator).filter((cell) => /^[=+\-@]/.test(cell));
        expect(formulas, `${JSON.stringify(text)} split on ${JSON.stringify(separator)}`).toEqual([]);
      }
      expect(cells(line, ",")[13]).toBe(text);
    }
  });

  it("names the header's columns in order, and the file by format and time with no character a file system refuses", () => {
    expect(exportPreamble("csv")).toBe(
      "seq,id,occurred_at,actor_staff_id,actor_zendesk_user_id,actor_email,actor_role,actor_system,action,target_type,target_id,target_account_id,ticket_id," +
        "reason,outcome,error,request_id,operation_id,before,after,ticket_snapshot,approval,mac,chain_seq,chain_prev_hash,chain_hash,chain_entry_hash\r\n",
    );
    expect(exportPreamble("ndjson")).toBe("");
    expect(exportFilename("csv", new Date("2026-11-24T12:00:00.123Z"))).toBe("steward-audit-2026-11-24T12-00-00-123Z.csv");
    expect(exportFilename("ndjson", new Date("2026-01-02T03:04:05.006Z"))).toBe("steward-audit-2026-01-02T03-04-05-006Z.ndjson");
    expect(exportContentTypes).toEqual({ csv: "text/csv; charset=utf-8", ndjson: "application/x-ndjson; charset=utf-8" });
  });
});
