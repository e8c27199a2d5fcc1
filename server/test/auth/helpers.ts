import { Writable } from "node:stream";
import type { Express } from "express";
import { sql } from "kysely";
import request from "supertest";
import { expect } from "vitest";
import { mintDemoZafToken, type DemoZafTokenInput } from "../../src/auth/mintDemoZafToken.js";
import type { ManualClock } from "../../src/clock.js";
import type { DatabaseKind } from "../../src/db/database.js";
import type { AppDeps } from "../../src/deps.js";
import { createLogger } from "../../src/logger.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { createTestDeps } from "../support/databases.js";

export type TestDeps = AppDeps & { clock: ManualClock };

/**
 * Demo-mode deps with the four demo staff members (as the demo seed writes them; the rest of the
 * demo data is not needed here) and the demo ZAF key kept in memory (nothing under ./data).
 */
export async function authTestDeps(kind: DatabaseKind, env: Record<string, string> = {}): Promise<TestDeps> {
  const deps = await createTestDeps(kind, { env: { DATA_DIR: "memory", ...env } });
  await deps.database.db
    .insertInto("staff")
    .values(DEMO_AGENTS.map((a) => ({ id: a.id, zendesk_user_id: a.zendeskUserId, email: a.email, name: a.name, panel_role: a.role })))
    .execute();
  return deps;
}

export const AGENT = {
  readOnly: DEMO_AGENTS[0],
  support: DEMO_AGENTS[1],
  operations: DEMO_AGENTS[2],
  admin: DEMO_AGENTS[3],
} as const;

export function zafToken(deps: TestDeps, input: DemoZafTokenInput): Promise<string> {
  return mintDemoZafToken(deps, input);
}

/** A real session through POST /api/session, as the app gets it. */
export async function sessionFor(app: Express, deps: TestDeps, zendeskUserId: string, extra: Omit<DemoZafTokenInput, "zendeskUserId"> = {}): Promise<string> {
  const token = await zafToken(deps, { zendeskUserId, ...extra });
  const res = await request(app).post("/api/session").send({ token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.sessionToken as string;
}

export async function rowCounts(deps: AppDeps): Promise<{ staff: number; audit: number }> {
  const { rows } = await sql<{ staff: number; audit: number }>`select (select count(*) from staff)::int as staff, (select count(*) from audit_log)::int as audit`.execute(deps.database.db);
  return rows[0] as { staff: number; audit: number };
}

/** A logger whose lines the test can read back. */
export function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const logger = createLogger("info", stream);
  return {
    logger,
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
