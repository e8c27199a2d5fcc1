import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Just enough OpenAPI 3.1 / JSON Schema to hold a test fake to a published contract: find the
 * operation a request hit, and validate bodies against its schemas ($ref resolved). Keywords it does
 * not know fail loudly instead of passing silently.
 */
export type Schema = boolean | { [keyword: string]: unknown };
export interface Operation {
  parameters?: { in: string; name: string; required?: boolean }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

/** Contracts are kept in the repository (server/test/contracts/) so a fresh clone can run the suite. */
export const CONTRACTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../contracts");
export const AUTH0_CONTRACT_PATH = resolve(CONTRACTS_DIR, "auth0-management-api.openapi.json");

export function loadContract(path: string): OpenApiDocument {
  if (!existsSync(path)) {
    throw new Error(`Contract file missing: ${path}. The provider contract checks read their documents from server/test/contracts/.`);
  }
  return JSON.parse(readFileSync(path, "utf8")) as OpenApiDocument;
}

/** The spec's path template for a concrete path; literal segments beat parameters. */
export function matchTemplate(doc: OpenApiDocument, method: string, path: string): { template: string; operation: Operation } | undefined {
  const candidates = Object.keys(doc.paths)
    .filter((template) => new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{[^}]+\\?\}/g, "[^/]+")}$`).test(path))
    .sort((a, b) => b.split("/").filter((s) => !s.startsWith("{")).length - a.split("/").filter((s) => !s.startsWith("{")).length);
  for (const template of candidates) {
    const operation = doc.paths[template]?.[method.toLowerCase()];
    if (operation) return { template, operation };
  }
  return undefined;
}

const ANNOTATIONS = new Set(["default", "description", "title", "examples", "example", "deprecated", "readOnly", "writeOnly", "$comment", "format", "x-release-lifecycle"]);
const ASSERTIONS = new Set([
  "$ref", "type", "properties", "required", "additionalProperties", "items", "oneOf", "anyOf", "allOf",
  "enum", "const", "pattern", "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "maxProperties", "minProperties",
]);
const FORMATS: Record<string, (v: string) => boolean> = {
  "date-time": (v) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v),
  email: (v) => /^[^@\s]+@[^@\s]+$/.test(v),
};

/** JSON Schema patterns are ECMA-262; some published ones use identity escapes (`\:`) that only non-unicode mode allows. */
function patternOf(pattern: string): RegExp {
  try {
    return new RegExp(pattern, "u");
  } catch {
    return new RegExp(pattern);
  }
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function hasType(value: unknown, type: string): boolean {
  if (type === "integer") return Number.isInteger(value);
  return typeOf(value) === type;
}

/** Every way `value` breaks `schema`, as "path: reason" lines; empty when it conforms. */
export function validate(doc: OpenApiDocument, schema: Schema | undefined, value: unknown, at = "$"): string[] {
  if (schema === undefined || schema === true) return [];
  if (schema === false) return [`${at}: no value is allowed here`];
  const errors: string[] = [];
  for (const keyword of Object.keys(schema)) {
    if (!ASSERTIONS.has(keyword) && !ANNOTATIONS.has(keyword) && !keyword.startsWith("x-")) errors.push(`${at}: schema keyword "${keyword}" is not supported by this checker`);
  }
  const s = schema as Record<string, unknown>;
  if (typeof s.$ref === "string") {
    const name = s.$ref.replace(/^#\/components\/schemas\//, "");
    const target = doc.components?.schemas?.[name];
    if (target === undefined) return [...errors, `${at}: unresolvable $ref ${s.$ref}`];
    errors.push(...validate(doc, target, value, at));
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!types.some((t) => hasType(value, t))) return [...errors, `${at}: expected ${types.join(" or ")}, got ${typeOf(value)}`];
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => e === value)) errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(s.enum)}`);
  if ("const" in s && s.const !== value) errors.push(`${at}: expected ${JSON.stringify(s.const)}`);
  if (typeof value === "string") {
    if (typeof s.pattern === "string" && !patternOf(s.pattern).test(value)) errors.push(`${at}: "${value}" does not match ${s.pattern}`);
    if (typeof s.minLength === "number" && [...value].length < s.minLength) errors.push(`${at}: shorter than ${s.minLength}`);
    if (typeof s.maxLength === "number" && [...value].length > s.maxLength) errors.push(`${at}: longer than ${s.maxLength}`);
    const format = typeof s.format === "string" ? FORMATS[s.format] : undefined;
    if (format && !format(value)) errors.push(`${at}: "${value}" is not a valid ${String(s.format)}`);
  }
  if (typeof value === "number") {
    if (typeof s.minimum === "number" && value < s.minimum) errors.push(`${at}: below ${s.minimum}`);
    if (typeof s.maximum === "number" && value > s.maximum) errors.push(`${at}: above ${s.maximum}`);
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === "number" && value.length < s.minItems) errors.push(`${at}: fewer than ${s.minItems} items`);
    if (typeof s.maxItems === "number" && value.length > s.maxItems) errors.push(`${at}: more than ${s.maxItems} items`);
    if (s.items !== undefined) value.forEach((item, i) => errors.push(...validate(doc, s.items as Schema, item, `${at}[${i}]`)));
  }
  if (typeOf(value) === "object") {
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const name of (s.required as string[] | undefined) ?? []) if (!(name in obj)) errors.push(`${at}: missing required property "${name}"`);
    const count = Object.keys(obj).length;
    if (typeof s.maxProperties === "number" && count > s.maxProperties) errors.push(`${at}: more than ${s.maxProperties} properties`);
    if (typeof s.minProperties === "number" && count < s.minProperties) errors.push(`${at}: fewer than ${s.minProperties} properties`);
    for (const [name, v] of Object.entries(obj)) {
      if (name in props) errors.push(...validate(doc, props[name], v, `${at}.${name}`));
      else if (s.additionalProperties === false) errors.push(`${at}: property "${name}" is not allowed`);
      else if (typeof s.additionalProperties === "object") errors.push(...validate(doc, s.additionalProperties as Schema, v, `${at}.${name}`));
    }
  }
  if (Array.isArray(s.allOf)) for (const sub of s.allOf as Schema[]) errors.push(...validate(doc, sub, value, at));
  if (Array.isArray(s.anyOf) && !(s.anyOf as Schema[]).some((sub) => validate(doc, sub, value, at).length === 0)) errors.push(`${at}: matches none of anyOf`);
  if (Array.isArray(s.oneOf)) {
    const results = (s.oneOf as Schema[]).map((sub) => validate(doc, sub, value, at));
    const matching = results.filter((r) => r.length === 0).length;
    if (matching === 0) errors.push(`${at}: matches none of oneOf (${results.map((r) => r.join("; ")).join(" | ")})`);
    else if (matching > 1) errors.push(`${at}: matches ${matching} of oneOf (exactly one required)`);
  }
  return errors;
}
