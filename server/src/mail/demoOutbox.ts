import { Router } from "express";
import { z } from "zod";
import { OutboxResponse } from "../../../shared/schemas/mail.js";
import type { AppDeps } from "../deps.js";
import { route } from "../http/route.js";
import { listOutbox } from "./outbox.js";

/**
 * Demo mode only: the customer mail Steward would have sent, for the local Zendesk page (which has no
 * Steward session of its own). Never registered in production mode.
 */
export function demoOutboxRoutes(deps: AppDeps): Router {
  const router = Router();
  if (!deps.config.demo) return router;
  route(
    router,
    {
      method: "get",
      path: "/api/demo/outbox",
      summary: "Demo mode: customer mail in the outbox (held without SMTP), newest first",
      tags: ["demo"],
      authenticated: false,
      query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
      responses: { 200: OutboxResponse },
    },
    async ({ query }) => ({ mail: await listOutbox(deps.database.db, query.limit) }),
  );
  return router;
}
