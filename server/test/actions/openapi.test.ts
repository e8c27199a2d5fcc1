import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { supportActionNames } from "../../../shared/schemas/actions.js";
import { createApp } from "../../src/app.js";
import type { AppDeps } from "../../src/deps.js";
import { createTestDeps } from "../support/databases.js";

describe("the OpenAPI document", () => {
  let deps: AppDeps;
  beforeAll(async () => {
    deps = await createTestDeps("pglite");
  });
  afterAll(async () => {
    await deps.database.close();
  });

  it("lists every support action with its request body, Idempotency-Key and error shapes", async () => {
    const doc = (await request(createApp(deps)).get("/api/openapi.json").expect(200)).body as {
      paths: Record<string, { post?: { requestBody?: { content: Record<string, { schema: { required?: string[]; properties?: Record<string, unknown> } }> }; parameters: { name: string; in: string }[]; responses: Record<string, { content?: Record<string, unknown> }> } }>;
    };
    for (const action of supportActionNames) {
      const op = doc.paths[`/api/actions/${action}`]?.post;
      expect(op, action).toBeDefined();
      const schema = op!.requestBody!.content["application/json"]!.schema;
      expect(schema.required, action).toEqual(expect.arrayContaining(["ticketId", "reason", "target", "expectedVersion"]));
      expect(schema.properties, action).toHaveProperty("input");
      expect(op!.parameters.map((p) => `${p.in}:${p.name}`), action).toContain("header:Idempotency-Key");
      for (const status of ["400", "401", "403", "404", "409", "502"]) {
        expect(op!.responses[status]?.content, `${action} ${status}`).toHaveProperty(["application/problem+json"]);
      }
    }
  });
});
