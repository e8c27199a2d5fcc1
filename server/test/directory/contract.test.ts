import { readFileSync } from "node:fs";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { DirectoryUser, UserWrite } from "../../../shared/directory/contract.js";
import { createApp } from "../../src/app.js";
import { buildDirectoryContract } from "../../src/directory/contractDocument.js";
import { createTestDeps } from "../support/databases.js";

/** The directory contract: generated from the zod schemas, served, and committed in docs/ as generated. */
const committed = JSON.parse(readFileSync(new URL("../../../docs/directory-contract.json", import.meta.url), "utf8")) as Record<string, unknown>;

describe("directory contract", () => {
  it("docs/directory-contract.json is the generated document (npm run contract:directory rewrites it)", () => {
    expect(committed).toEqual(JSON.parse(JSON.stringify(buildDirectoryContract())));
  });

  it("is served at /api/directory-contract.json without a session", async () => {
    const deps = await createTestDeps("pglite");
    try {
      const res = await request(createApp(deps)).get("/api/directory-contract.json");
      expect(res.status).toBe(200);
      expect(res.body).toEqual(committed);
    } finally {
      await deps.database.close();
    }
  });

  it("names every operation, with the version and problem shapes the checker relies on", () => {
    const paths = committed.paths as Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
    const operations = Object.values(paths).flatMap((p) => Object.values(p).map((o) => o.operationId));
    expect(operations.sort()).toEqual(["getAccount", "getSettings", "getUser", "lookupUsers", "search", "updateAccount", "updateUser"]);
    expect(paths["/steward/directory/v1/users/{id}"]?.patch?.responses).toHaveProperty("409");
    const schemas = (committed.components as { schemas: Record<string, { required?: string[] }> }).schemas;
    expect(schemas.DirectoryUser?.required).toContain("version");
    expect(schemas.DirectoryAccount?.required).toContain("version");
    expect(schemas.UserWrite?.required).toEqual(["expectedVersion", "changes"]);
    expect(schemas.DirectoryProblem?.required).toEqual(expect.arrayContaining(["type", "title", "status", "code"]));
  });

  it("the schemas refuse what the contract forbids: unknown fields in a write, a user without version", () => {
    expect(UserWrite.safeParse({ expectedVersion: 1, changes: { role: "member", password: "x" } }).success).toBe(false);
    expect(UserWrite.safeParse({ expectedVersion: 1, changes: {} }).success).toBe(false);
    expect(DirectoryUser.safeParse({ id: "u", accountId: "a", email: "a@b.c", name: "A", role: "member", status: "active", idpId: null, staff: false, protected: false, settings: {} }).success).toBe(false);
  });
});
