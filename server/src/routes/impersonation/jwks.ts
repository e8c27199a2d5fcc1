import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../../deps.js";
import { grantKeysFor, JWKS_MAX_AGE_SECONDS } from "../../impersonation/signingKeys.js";
import { route } from "../../http/route.js";

const Jwks = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });

/** The public keys products verify impersonation grants with (current + recently retired). */
export function jwksRoutes(deps: AppDeps): Router {
  const router = Router();
  route(router, { method: "get", path: "/.well-known/jwks.json", summary: "Public keys of the impersonation grants (JWKS)", tags: ["impersonation"], authenticated: false, responses: { 200: Jwks } }, async ({ res }) => {
    // Short cache; a rotated-in key is published this long (and more) before it signs.
    res.setHeader("Cache-Control", `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    return grantKeysFor(deps.config).jwks(deps.clock.now());
  });
  return router;
}
