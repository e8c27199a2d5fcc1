import { writeFileSync } from "node:fs";
import { buildDirectoryContract } from "../server/src/directory/contractDocument.js";

/** Writes docs/directory-contract.json from the zod schemas (server/test/directory/contract.test.ts fails when it is out of date). */
const path = new URL("../docs/directory-contract.json", import.meta.url);
writeFileSync(path, `${JSON.stringify(buildDirectoryContract(), null, 2)}\n`);
process.stdout.write(`wrote ${path.pathname}\n`);
