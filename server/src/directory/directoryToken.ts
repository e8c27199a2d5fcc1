import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { DIRECTORY_TOKEN_TYP } from "../../../shared/directory/contract.js";
import type { Actor } from "../actor.js";
import { ALG, type GrantKeys } from "../impersonation/signingKeys.js";

/**
 * The token on every directory request: who acts (agent), from which ticket, and for writes the
 * idempotency key, signed with the impersonation key set (the product already trusts its JWKS).
 * 30 s: one request's life, retries included (each attempt signs afresh).
 */
const TOKEN_SECONDS = 30;

export interface DirectoryTokenBody {
  actor: Actor | null;
  ticketId: string | null;
  idempotencyKey?: string;
}

export async function signDirectoryToken(keys: GrantKeys, body: DirectoryTokenBody, expected: { issuer: string; audience: string }, now: Date): Promise<string> {
  const key = await keys.current(now);
  const iat = Math.floor(now.getTime() / 1000);
  const actor = body.actor;
  const agent = !actor ? { id: "system:steward", email: null } : actor.kind === "staff" ? { id: actor.staffId, email: actor.email } : { id: `system:${actor.component}`, email: null };
  return new SignJWT({ agent, ticketId: body.ticketId, ...(body.idempotencyKey ? { idem: body.idempotencyKey } : {}) })
    .setProtectedHeader({ alg: ALG, kid: key.kid, typ: DIRECTORY_TOKEN_TYP })
    .setIssuer(expected.issuer)
    .setAudience(expected.audience)
    .setSubject(agent.id)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + TOKEN_SECONDS)
    .sign(key.privateKey);
}
