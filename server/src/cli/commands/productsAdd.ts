import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import { z } from "zod";
import { systemActor } from "../../actor.js";
import { systemClock } from "../../clock.js";
import { registerProduct } from "../../impersonation/products.js";
import { loadCliConfig, openCliDatabase, requireMigrated } from "./cliDatabase.js";
import { UsageError } from "./command.js";

/** `products add`: registers a product for impersonation and prints its credential once (only a hash is kept). */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { name: { type: "string" }, url: { type: "string" }, id: { type: "string" }, database: { type: "string" }, "data-dir": { type: "string" } } });
  const name = z.string().trim().min(1).max(100).safeParse(values.name);
  if (!name.success) throw new UsageError("--name: required");
  const url = z.url().safeParse(values.url);
  if (!url.success || !/^https?:/.test(url.data)) throw new UsageError("--url: expected the product's http(s) URL");
  if (values.id !== undefined && !/^prd_[A-Za-z0-9_-]{1,60}$/.test(values.id)) throw new UsageError("--id: expected prd_ followed by letters, digits, _ or -");
  const overrides = { database: values.database, dataDir: values["data-dir"] };
  const config = loadCliConfig(overrides);
  // Grants travel to the product in its URL: over plain http anyone on the path could read and replay them.
  if (!config.demo && url.data.startsWith("http:")) throw new UsageError("--url: production mode (STEWARD_MODE=production) needs the product's https:// URL; http:// is accepted only in demo mode");
  const database = await openCliDatabase(overrides, config);
  try {
    if (!(await requireMigrated(database))) return 1;
    let operator = "unknown";
    try {
      operator = userInfo().username;
    } catch {
      operator = "unknown";
    }
    const product = await registerProduct(database.db, systemClock, { ...(values.id ? { id: values.id } : {}), name: name.data, url: url.data, actor: systemActor(`cli:${operator}`) });
    process.stdout.write(`product ${product.id} ${product.replaced ? "updated" : "registered"}\ncredential (shown once; give it to the product as STEWARD_PRODUCT_CREDENTIAL): ${product.id}.${product.secret}\n`);
    return 0;
  } finally {
    await database.close();
  }
}
