import { createDemoProduct } from "./app.js";

/** `npm start` (demo mode) runs this beside Steward with the product credential it registered. */
const stewardUrl = process.env.STEWARD_URL ?? "http://127.0.0.1:3000";
const credential = process.env.STEWARD_PRODUCT_CREDENTIAL;
const port = Number(process.env.PORT ?? 3100);
const host = process.env.HOST ?? "127.0.0.1";
if (!credential) {
  process.stderr.write("demo product: STEWARD_PRODUCT_CREDENTIAL is required (npm run steward -- products add …)\n");
  process.exit(1);
}
const { app, kit } = createDemoProduct({ stewardUrl, credential });
const server = app.listen(port, host, () => process.stdout.write(`demo product listening on http://localhost:${port}\n`));
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    server.close();
    void kit.close().finally(() => process.exit(0));
  });
}
