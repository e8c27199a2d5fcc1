import type { z } from "zod";
import type { ActionPreviewResponse, ActionResponse, SupportActionName, actionInputs, actionRequest } from "../../../shared/schemas/actions";
import type { StewardApi } from "../api/steward";
import type { FieldSpec } from "./catalog";

/** The request body of POST /api/actions/<name> (and its /preview), as shared/schemas/actions.ts defines it. */
export type ActionRequestBody = z.input<ReturnType<typeof actionRequest<(typeof actionInputs)[SupportActionName]>>>;
export type ActionInput = ActionRequestBody["input"];

/** Turns the form's text values into the action's input; bad values are left for the server to name. */
export function inputFrom(fields: FieldSpec[], values: Record<string, string>): ActionInput {
  const input: Record<string, unknown> = {};
  for (const field of fields) {
    const raw = (values[field.name] ?? "").trim();
    if (raw === "" && field.optional) continue;
    if (field.kind === "number") input[field.name] = raw === "" ? undefined : Number(raw);
    else if (field.kind === "money") input[field.name] = raw === "" ? undefined : Math.round(Number(raw.replace(",", ".")) * 100);
    else if (field.kind === "idList") input[field.name] = raw.split(/[\s,]+/).filter(Boolean);
    else input[field.name] = raw;
  }
  return input as ActionInput;
}

export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function previewAction(api: StewardApi, action: SupportActionName, body: ActionRequestBody): Promise<ActionPreviewResponse> {
  return api.post<ActionPreviewResponse>(`/api/actions/${action}/preview`, body);
}

/** The same Idempotency-Key on a retry makes the server replay the first result instead of acting twice. */
export function runAction(api: StewardApi, action: SupportActionName, body: ActionRequestBody, idempotencyKey: string): Promise<ActionResponse> {
  return api.post<ActionResponse>(`/api/actions/${action}`, body, { "Idempotency-Key": idempotencyKey });
}
