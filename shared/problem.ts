import { z } from "zod";

/** RFC 9457 problem details, as every Steward error is returned. */
/**
 * One bad field: `reason` in English; `code` and `params` say the same for clients that word it in their
 * own language — the schema's check that failed and its bounds (fieldReasonCode): `too_small_string`
 * {minimum}, `too_big_number` {maximum}, `invalid_value` {values}… `custom` is a rule of its own, said
 * only by `reason`. Older entries (and ones a handler writes itself) may carry no code.
 */
export const FieldError = z.object({ field: z.string(), reason: z.string(), code: z.string().optional(), params: z.record(z.string(), z.union([z.string(), z.number()])).optional() });

/** Every `code` a field error can carry (a client needs words for each; a test keeps this list and theirs in step). */
export const fieldReasonCodes = [
  "required",
  "invalid_type",
  "invalid_type_int",
  "too_small_string",
  "too_big_string",
  "too_small_number",
  "too_small_number_exclusive",
  "too_big_number",
  "too_big_number_exclusive",
  "too_small_array",
  "too_big_array",
  "invalid_value",
  "invalid_format",
  "invalid_format_email",
  "invalid_format_url",
  "unrecognized_keys",
  "not_multiple_of",
  "invalid",
  "custom",
] as const;
export type FieldReasonCode = (typeof fieldReasonCodes)[number];

/**
 * A zod issue (v4) as a stable code and its bounds, independent of its English message. `missing`: the
 * field was absent from the input (zod's issues do not carry the input), which makes a type error "required".
 */
export function fieldReasonCode(issue: z.core.$ZodIssue, missing = false): { code: FieldReasonCode; params: Record<string, string | number> } {
  const num = (v: unknown) => (typeof v === "bigint" ? Number(v) : typeof v === "number" ? v : Number(v));
  switch (issue.code) {
    case "invalid_type":
      if (missing) return { code: "required", params: {} };
      return { code: issue.expected === "int" ? "invalid_type_int" : "invalid_type", params: {} };
    case "too_small": {
      if (issue.origin === "string") return issue.minimum === 1 || issue.minimum === 1n ? { code: "required", params: {} } : { code: "too_small_string", params: { minimum: num(issue.minimum) } };
      if (issue.origin === "array" || issue.origin === "set") return { code: "too_small_array", params: { minimum: num(issue.minimum) } };
      return { code: issue.inclusive === false ? "too_small_number_exclusive" : "too_small_number", params: { minimum: num(issue.minimum) } };
    }
    case "too_big": {
      if (issue.origin === "string") return { code: "too_big_string", params: { maximum: num(issue.maximum) } };
      if (issue.origin === "array" || issue.origin === "set") return { code: "too_big_array", params: { maximum: num(issue.maximum) } };
      return { code: issue.inclusive === false ? "too_big_number_exclusive" : "too_big_number", params: { maximum: num(issue.maximum) } };
    }
    case "invalid_value":
      return { code: "invalid_value", params: { values: issue.values.map(String).join(", ") } };
    case "invalid_format":
      return { code: issue.format === "email" ? "invalid_format_email" : issue.format === "url" ? "invalid_format_url" : "invalid_format", params: {} };
    case "unrecognized_keys":
      return { code: "unrecognized_keys", params: { keys: issue.keys.join(", ") } };
    case "not_multiple_of":
      return { code: "not_multiple_of", params: { divisor: num(issue.divisor) } };
    case "custom":
      return { code: "custom", params: {} };
    default:
      return { code: "invalid", params: {} };
  }
}
export type FieldError = z.infer<typeof FieldError>;

export const ProblemDetails = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    code: z.string().optional(),
    requestId: z.string().optional(),
    errors: z.array(FieldError).optional(),
  })
  .loose();
export type ProblemDetails = z.infer<typeof ProblemDetails>;
