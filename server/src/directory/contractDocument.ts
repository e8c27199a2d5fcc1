import { z } from "zod";
import { DIRECTORY_BASE_PATH, DIRECTORY_CONTRACT_VERSION, DIRECTORY_TOKEN_TYP, directoryOperations, directorySchemas } from "../../../shared/directory/contract.js";

/**
 * The directory contract as OpenAPI 3.1, generated from the zod schemas in shared/directory (zod 4's
 * own JSON Schema output, as /api/openapi.json is). Served at /api/directory-contract.json and
 * committed as docs/directory-contract.json (a test keeps the two the same).
 */
type Json = Record<string, unknown>;

const REF = (id: string) => `#/components/schemas/${id}`;

/** The named schemas, each once, referring to one another by $ref. */
function componentSchemas(): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(directorySchemas)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { io: "output", unrepresentable: "any", uri: REF }) as { schemas: Record<string, Json> };
  return Object.fromEntries(Object.entries(schemas).map(([id, { $schema: _s, $id: _id, ...rest }]) => [id, rest]));
}

/** A $ref when the schema is a named one, else the schema inline. */
function schemaOf(schema: z.ZodType, io: "input" | "output"): Json {
  const named = Object.entries(directorySchemas).find(([, s]) => s === schema)?.[0];
  if (named) return { $ref: REF(named) };
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any", reused: "inline", metadata: undefined }) as Json;
  return rest;
}

function queryParameters(schema: z.ZodType | undefined): Json[] {
  if (!schema) return [];
  const json = schemaOf(schema, "input") as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({ name, in: "query", required: (json.required ?? []).includes(name), schema: s }));
}

const problem = (description: string) => ({ description, content: { "application/problem+json": { schema: { $ref: "#/components/schemas/DirectoryProblem" } } } });

export function buildDirectoryContract(version: string = DIRECTORY_CONTRACT_VERSION): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const [operationId, op] of Object.entries(directoryOperations)) {
    const path = `${DIRECTORY_BASE_PATH}${op.path}`;
    const isWrite = op.method !== "get";
    const responses: Record<string, Json> = {
      200: { description: "OK", content: { "application/json": { schema: schemaOf(op.response, "output") } } },
      400: problem("`invalid_request`: each bad field (errors[].field) and why"),
      401: problem("`unauthorized`: no token, or one that fails verification"),
    };
    if (op.path.includes("{id}")) responses[404] = problem("`not_found`: no such object");
    if (isWrite) responses[409] = problem("`stale_version` (with currentVersion): the object changed since expectedVersion; or `invalid_transition`");
    paths[path] ??= {};
    paths[path][op.method] = {
      operationId,
      summary: op.summary,
      security: [{ stewardToken: [] }],
      parameters: [...(op.path.includes("{id}") ? [{ name: "id", in: "path", required: true, schema: { type: "string" } }] : []), ...queryParameters("query" in op ? op.query : undefined)],
      ...("body" in op ? { requestBody: { required: true, content: { "application/json": { schema: schemaOf(op.body, "input") } } } } : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Steward directory contract",
      version,
      description:
        "What a product implements so Steward finds and changes its accounts and users through the product's own API. " +
        `Every request carries Authorization: Bearer <JWT> (typ ${DIRECTORY_TOKEN_TYP}, ES256, a key from Steward's /.well-known/jwks.json; aud = your product id; ` +
        "claims: sub and agent = the acting agent, ticketId, idem = idempotency key on writes, life ≤ 60 s). Every object carries `version`; " +
        "a write names expectedVersion and is refused 409 stale_version when the object changed. The same idem twice on the same object is applied once and the repeat answered with the first answer, whatever its body. " +
        "Check an implementation with: npx steward directory-check --url … --key …",
    },
    paths,
    components: {
      schemas: componentSchemas(),
      securitySchemes: { stewardToken: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
    },
  };
}
