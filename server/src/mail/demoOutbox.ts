import { Router } from "express";
import { z } from "zod";
import { OutboxResponse } from "../../../shared/schemas/mail.js";
import type { AppDeps } from "../deps.js";
import { authenticate } from "../auth/authenticate.js";
import { route } from "../http/route.js";
import { listOutbox } from "./outbox.js";

/**
 * Demo mode only: the customer mail Steward would have sent, for the local Zendesk page (which signs
 * in as its chosen agent). Needs a session; bearer secrets are never shown. Never registered in production mode.
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
      before: [authenticate(deps)],
      query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
      responses: { 200: OutboxResponse },
    },
    async ({ query }) => ({ mail: await listOutbox(deps.database.db, query.limit) }),
  );
  return router;
}
