import type { Mode } from "./types.js";

/**
 * What an impersonating agent may do. Read-only refuses every unsafe method and the product's own
 * deny list; full mode still refuses the always-deny list (the customer's secrets and who controls
 * the account). Messages are written for the agent who sees them.
 */
export interface RouteRule {
  /** `*` or a method list. */
  methods?: string[] | "*";
  path: RegExp;
  /** Said to the agent, e.g. "the customer's password". */
  what: string;
}

const UNSAFE_ANY = "*";

export const ALWAYS_DENY: RouteRule[] = [
  { methods: ["POST", "PUT", "PATCH", "DELETE"], path: /\/password(\/|$)/i, what: "the customer's password" },
  { methods: ["POST", "PUT", "PATCH", "DELETE"], path: /\/(email|emails)(\/|$)/i, what: "the customer's email address" },
  { methods: ["POST", "PUT", "PATCH", "DELETE"], path: /\/(2fa|mfa|two-factor|totp)(\/|$)/i, what: "two-factor authentication" },
  { methods: UNSAFE_ANY, path: /\/(payment-methods|payment_methods|cards)(\/|$)/i, what: "payment methods" },
  { methods: UNSAFE_ANY, path: /\/(api-keys|api_keys|tokens)(\/|$)/i, what: "API keys" },
  { methods: ["POST", "PUT", "PATCH", "DELETE"], path: /\/(admins|members\/[^/]+\/role|invitations\/admin)(\/|$)/i, what: "inviting or removing admins" },
];

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export interface GuardDecision {
  allowed: boolean;
  reason?: string;
  /** Refused only until Steward confirms the session again (it could not be reached): not a rule the agent broke. */
  unconfirmed?: boolean;
}

/** The path as sent and percent-decoded: frameworks decode route parameters, so `/account/%65mail` may reach an `email` handler. */
function pathForms(path: string): string[] {
  try {
    const decoded = decodeURIComponent(path);
    return decoded === path ? [path] : [path, decoded];
  } catch {
    return [path];
  }
}

function matches(rule: RouteRule, method: string, path: string): boolean {
  const methodOk = rule.methods === undefined || rule.methods === "*" || rule.methods.includes(method);
  return methodOk && pathForms(path).some((p) => rule.path.test(p));
}

export function decide(mode: Mode, method: string, path: string, lists: { readOnlyDeny?: RouteRule[]; alwaysDeny?: RouteRule[] } = {}): GuardDecision {
  const m = method.toUpperCase();
  for (const rule of lists.alwaysDeny ?? ALWAYS_DENY) {
    if (matches(rule, m, path)) return { allowed: false, reason: `Support agents can never change ${rule.what} while viewing a customer's account, even with full access.` };
  }
  if (mode === "read_only") {
    if (!SAFE.has(m)) return { allowed: false, reason: "This is a read-only support session: you can look, but not change anything. Ask for full access on the ticket if a change is needed." };
    for (const rule of lists.readOnlyDeny ?? []) {
      if (matches(rule, m, path)) return { allowed: false, reason: `This is a read-only support session: ${rule.what} is not shown.` };
    }
  }
  return { allowed: true };
}
