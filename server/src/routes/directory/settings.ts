import { Router } from "express";
import { SettingsDeclaration } from "../../../../shared/directory/contract.js";
import { guard } from "../../auth/authorize.js";
import type { AppDeps } from "../../deps.js";
import { route } from "../../http/route.js";

/**
 * The user settings support may change, as the product declares them (name, type, allowed values):
 * what the sidebar renders a settings form from. The built-in directory declares none.
 */
export function directoryRoutes(deps: AppDeps): Router {
  const router = Router();
  route(
    router,
    {
      method: "get",
      path: "/api/directory/settings",
      summary: "The user settings support may change, as the product's directory declares them",
      tags: ["lookup"],
      responses: { 200: SettingsDeclaration, 403: "Panel role too low", 502: "The product's directory could not be read", 504: "The product's directory did not answer in time" },
      before: guard(deps, "context.view"),
    },
    () => deps.directory.settings(),
  );
  return router;
}
