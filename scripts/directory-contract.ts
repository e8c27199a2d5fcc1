import { writeFileSync } from "node:fs";

/** Writes docs/directory-contract.json from the zod schemas (server/test/directory/contract.test.ts fails when it is out of date). */
if (process.argv.includes("--help")) {
  process.stdout.write("usage: npm run contract:directory\n\nRewrites docs/directory-contract.json (the directory contract, OpenAPI) from the zod schemas in shared/directory/.\n");
  process.exit(0);
}
// Loaded only now, so --help writes nothing and loads none of the schemas.
const { buildDirectoryContract } = await import("../server/src/directory/contractDocument.js");
const path = new URL("../docs/directory-contract.json", import.meta.url);
writeFileSync(path, `${JSON.stringify(buildDirectoryContract(), null, 2)}\n`);
process.stdout.write(`wrote ${path.pathname}\n`);
