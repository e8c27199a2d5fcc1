import { ConfigError, loadConfigOrExit } from "./config.js";
import { startDemoProduct } from "./demo/demoProduct.js";
import { buildDeps, startServer } from "./server.js";

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const deps = await buildDeps(config);
  const running = await startServer(deps);
  deps.logger.info(
    { port: running.port, mode: config.STEWARD_MODE, database: deps.database.kind, location: deps.database.location },
    `Steward is running on ${config.publicUrl}${config.demo ? ` — open http://localhost:${running.port}/zendesk to try it` : ""}`,
  );
  const product = await startDemoProduct(deps, running.port);
  if (product) deps.logger.info({ url: product.url }, `The demo product runs on ${product.url} (open it from the sidebar: View as customer)`);
  let signalled = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (signalled) process.exit(1);
      signalled = true;
      Promise.all([product?.stop(), running.close()]).then(
        () => process.exit(0),
        (err) => {
          deps.logger.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
    });
  }
}

main().catch((err) => {
  // Some settings (e.g. the app key) can only be checked once they are used: same one line.
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.line}\n`);
    process.exit(1);
  }
  process.stderr.write(`Steward failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
