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
  // Signals are handled from the moment Steward listens: a SIGTERM during the demo product's start still drains.
  const product = startDemoProduct(deps, running.port).then(
    (started) => {
      if (started) deps.logger.info({ url: started.url }, `The demo product runs on ${started.url} (open it from the sidebar: View as customer)`);
      return started;
    },
    (err: unknown) => {
      deps.logger.warn({ err }, "the demo product did not start");
      return null;
    },
  );
  let signalled = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (signalled) process.exit(1);
      signalled = true;
      Promise.all([product.then((started) => started?.stop()), running.close()]).then(
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
