import { FileEventStore } from "../../src/index.js";

/** A product process with its event store on the directory given: records one event, says "ready", and closes the store on SIGTERM. */
const dir = process.argv[2];
if (!dir) throw new Error("usage: holdStore.ts <dir>");
try {
  const store = new FileEventStore(dir);
  store.save("imp_other", { events: [{ id: "held", method: "GET", route: "GET /held", object: null, outcome: "succeeded", status: 200, detail: null, occurredAt: "2026-11-28T12:00:00.000Z" }] });
  process.on("SIGTERM", () => {
    store.close();
    process.exit(0);
  });
  process.stdout.write("ready\n");
  setInterval(() => undefined, 60_000);
} catch (err) {
  process.stdout.write(`refused: ${(err as Error).message}\n`);
  process.exit(3);
}
