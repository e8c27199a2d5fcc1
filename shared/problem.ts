import { z } from "zod";

/** RFC 9457 problem details, as every Steward error is returned. */
export const FieldError = z.object({ field: z.string(), reason: z.string() });
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
