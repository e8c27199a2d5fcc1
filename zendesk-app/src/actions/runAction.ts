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

/** Answers after which the agent must be able to retry the SAME intent: the key is kept for it. */
const UNSETTLED_CODES = new Set(["outcome_unknown", "request_in_progress", "target_busy", "outcome_pending", "network_error", "timeout"]);

/**
 * Whether an error settles the submitted form (a definite "no": bad input, refused, stale version).
 * A network error, a timeout (5xx), 429, or an answer that says the action is still in flight or its
 * outcome is not known does not: retrying it with the same key is how it gets its real answer.
 */
export function settlesIntent(status: number, code: string | undefined): boolean {
  if (status === 0 || status === 202 || status === 429 || status >= 500) return false;
  return !(code && UNSETTLED_CODES.has(code));
}

/**
 * One Idempotency-Key per submitted form: the same request (minus its confirmation token, which
 * each preview renews) keeps its key until a definite answer; a different request gets a new one.
 */
export class IntentKeys {
  private current: { key: string; request: string } | null = null;

  keyFor(body: ActionRequestBody): string {
    const request = JSON.stringify({ ...body, confirmationToken: undefined });
    if (!this.current || this.current.request !== request) this.current = { key: newIdempotencyKey(), request };
    return this.current.key;
  }

  /** After a success or a definite refusal: the next submission is a new intent. */
  settle(): void {
    this.current = null;
  }
}

export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A preview records nothing, so it may come before the reason is typed (shown as the form opens). */
export function previewAction(api: StewardApi, action: SupportActionName, body: Omit<ActionRequestBody, "reason"> & { reason?: string }): Promise<ActionPreviewResponse> {
  return api.post<ActionPreviewResponse>(`/api/actions/${action}/preview`, body);
}

/** The same Idempotency-Key on a retry makes the server replay the first result instead of acting twice. */
export function runAction(api: StewardApi, action: SupportActionName, body: ActionRequestBody, idempotencyKey: string): Promise<ActionResponse> {
  return api.post<ActionResponse>(`/api/actions/${action}`, body, { "Idempotency-Key": idempotencyKey });
}
