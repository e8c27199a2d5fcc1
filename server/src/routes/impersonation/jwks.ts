import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../../deps.js";
import { grantKeysFor } from "../../impersonation/signingKeys.js";
import { route } from "../../http/route.js";

const Jwks = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });

/** The public keys products verify impersonation grants with (current + recently retired). */
export function jwksRoutes(deps: AppDeps): Router {
  const router = Router();
  route(router, { method: "get", path: "/.well-known/jwks.json", summary: "Public keys of the impersonation grants (JWKS)", tags: ["impersonation"], authenticated: false, responses: { 200: Jwks } }, async ({ res }) => {
    // Short cache: a rotated key must reach products well before the old one's grants expire.
    res.setHeader("Cache-Control", "public, max-age=30");
    return grantKeysFor(deps.config).jwks(deps.clock.now());
  });
  return router;
}
