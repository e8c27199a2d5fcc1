import { readFileSync } from "node:fs";
import { remoteKeys } from "@steward/impersonation-kit";
import { createDemoProduct } from "./app.js";
import { DirectoryStore, type AccountRow, type UserRow } from "./directory/store.js";

/** `npm start` (demo mode) runs this beside Steward with the product credential it registered. */
const stewardUrl = process.env.STEWARD_URL ?? "http://127.0.0.1:3000";
const credential = process.env.STEWARD_PRODUCT_CREDENTIAL;
const port = Number(process.env.PORT ?? 3100);
const host = process.env.HOST ?? "127.0.0.1";
if (!credential) {
  process.stderr.write("demo product: STEWARD_PRODUCT_CREDENTIAL is required (npm run steward -- products add …)\n");
  process.exit(1);
}
// Steward's directory contract over the product's own PGlite (DIRECTORY_DATA_DIR, or in memory), filled once
// from a seed file: only when Steward runs with DIRECTORY_PROVIDER=http (it passes these), else not opened at all.
const wantsDirectory = Boolean(process.env.DIRECTORY_SEED_FILE || process.env.DIRECTORY_DATA_DIR);
const store = wantsDirectory ? await DirectoryStore.open(process.env.DIRECTORY_DATA_DIR || undefined) : null;
if (store && process.env.DIRECTORY_SEED_FILE) {
  const seed = JSON.parse(readFileSync(process.env.DIRECTORY_SEED_FILE, "utf8")) as { accounts: AccountRow[]; users: UserRow[] };
  await store.load(seed.accounts, seed.users);
}
const productId = credential.split(".")[0] ?? "prd_demo";
// The kit's unsent events (KIT_EVENTS_DIR, beside Steward's DATA_DIR; in memory when unset).
const eventsDir = process.env.KIT_EVENTS_DIR || undefined;
const { app, kit } = createDemoProduct({ stewardUrl, credential, eventsDir, ...(store ? { directory: { store, keys: remoteKeys(stewardUrl), issuer: stewardUrl, audience: productId } } : {}) });
const server = app.listen(port, host, () => process.stdout.write(`demo product listening on http://localhost:${port}\n`));
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    server.close();
    void Promise.all([kit.close(), store?.close()]).finally(() => process.exit(0));
  });
}
