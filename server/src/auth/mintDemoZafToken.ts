import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import { demoZafKey } from "./demoZafKey.js";
import { zafBinding } from "./zafTrust.js";

export interface DemoZafTokenInput {
  zendeskUserId: string;
  name?: string;
  email?: string;
  ticketId?: string;
  /** The app location the token is for (Zendesk puts it in the context claim). */
  location?: "ticket_sidebar" | "nav_bar";
  /** Zendesk's tokens live about five minutes. */
  ttlSeconds?: number;
}

/**
 * Signs a ZAF token the way Zendesk would for the signed sidebar URL, with the local demo key.
 * For the local Zendesk page and tests; refused outside demo mode.
 */
export async function mintDemoZafToken(deps: { config: Config; clock: Clock }, input: DemoZafTokenInput): Promise<string> {
  if (!deps.config.demo) throw new Error("demo ZAF tokens exist only in demo mode");
  const trust = zafBinding(deps.config);
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  return new SignJWT({
    ...(input.name ? { name: input.name } : {}),
    ...(input.email ? { email: input.email } : {}),
    context: { product: "support", location: input.location ?? "ticket_sidebar", ...(input.ticketId ? { ticket_id: Number(input.ticketId) } : {}) },
  })
    .setProtectedHeader({ alg: "RS256", typ: "JWT" })
    .setIssuer(new URL(trust.issuer).host)
    .setAudience(trust.audience)
    .setSubject(input.zendeskUserId)
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + (input.ttlSeconds ?? 300))
    .sign(demoZafKey(deps.config.DATA_DIR).privateKey);
}
