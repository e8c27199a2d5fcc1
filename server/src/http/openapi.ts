import { z } from "zod";
import { ProblemDetails } from "../../../shared/problem.js";
import { registeredRoutes } from "./route.js";

type JsonSchema = Record<string, unknown>;

function toSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  return rest;
}

function parametersOf(schema: z.ZodType | undefined, where: "query" | "path"): unknown[] {
  if (!schema) return [];
  const json = toSchema(schema, "input") as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === "path" || (json.required ?? []).includes(name),
    schema: s,
    ...(typeof s.description === "string" ? { description: s.description } : {}),
  }));
}

/** The OpenAPI 3.1 document, built from the same zod schemas that validate each request. */
export function buildOpenApiDocument(info: { version: string; serverUrl?: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of registeredRoutes()) {
    const path = r.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(r.responses ?? { 200: "OK" })) {
      const isError = Number(status) >= 400;
      if (typeof response === "string") {
        responses[status] = isError
          ? { description: response, content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } }
          : { description: response, ...(r.produces ? { content: Object.fromEntries(r.produces.map((t) => [t, { schema: { type: "string" } }])) } : {}) };
      } else {
        responses[status] = { description: isError ? "Error" : "OK", content: { [isError ? "application/problem+json" : "application/json"]: { schema: toSchema(response, "output") } } };
      }
    }
    // Any route: text with NUL or an unpaired surrogate, in the query or body, is refused before the route runs.
    responses["400"] ??= { description: "Invalid input: each bad field and why", content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } };
    if (r.authenticated !== false) {
      responses["401"] ??= { description: "No valid session", content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } };
      // Signed-in requests are audited (lookups, changes, refusals); one whose entry cannot be written fails closed.
      responses["503"] ??= { description: "`audit_unavailable`: the audit log could not record the request, so it was not completed", content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } };
    }
    paths[path] ??= {};
    paths[path][r.method] = {
      summary: r.summary,
      ...(r.tags ? { tags: r.tags } : {}),
      ...(r.authenticated !== false ? { security: [{ session: [] }] } : { security: [] }),
      parameters: [
        ...parametersOf(r.params, "path"),
        ...parametersOf(r.query, "query"),
        ...(r.headers ?? []).map((h) => ({ name: h.name, in: "header", required: h.required ?? false, description: h.description, schema: { type: "string" } })),
      ],
      ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: toSchema(r.body, "input") } } } } : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Steward API", version: info.version, description: "Look up and administer customer accounts from a Zendesk ticket; every action is audited." },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    paths,
    components: {
      schemas: { Problem: toSchema(ProblemDetails, "output") },
      securitySchemes: { session: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "Steward session token from /api/session" } },
    },
  };
}
