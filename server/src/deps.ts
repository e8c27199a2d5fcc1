import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import type { Database } from "./db/database.js";
import type { Logger } from "./logger.js";

/** Everything the app needs from outside, built once in main.ts (or by a test) and passed down. */
export interface AppDeps {
  config: Config;
  database: Database;
  logger: Logger;
  clock: Clock;
}
