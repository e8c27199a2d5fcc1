import { grantKeysFor } from "../impersonation/signingKeys.js";
import { ProviderCaller } from "../providers/providerCall.js";
import { callPolicyFrom, type ProviderDeps } from "../providers/index.js";
import { BuiltinDirectory } from "./builtinDirectory.js";
import { classifyDirectoryError, HttpDirectory } from "./httpDirectory.js";
import type { DirectoryPort } from "./port.js";

export type { DirectoryPort } from "./port.js";

/** The directory DIRECTORY_PROVIDER names (config.ts has already checked DIRECTORY_URL and DIRECTORY_AUDIENCE). */
export function createDirectoryPort(deps: ProviderDeps): DirectoryPort {
  const { config } = deps;
  if (config.DIRECTORY_PROVIDER === "builtin") return new BuiltinDirectory(deps.db);
  const caller = new ProviderCaller("product", callPolicyFrom(config, deps.policy), classifyDirectoryError, { logger: deps.logger });
  return new HttpDirectory({ baseUrl: config.DIRECTORY_URL!, audience: config.DIRECTORY_AUDIENCE!, issuer: config.publicUrl, keys: grantKeysFor(config), clock: deps.clock, caller });
}
