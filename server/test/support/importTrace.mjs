import { register } from "node:module";

/**
 * Loaded with `NODE_OPTIONS=--import=<this file>` and IMPORT_TRACE_FILE=<path>: every module the process
 * imports is appended to that file (see importTraceHooks.mjs). Plain JavaScript because it runs before tsx.
 */
const file = process.env.IMPORT_TRACE_FILE;
if (file) register("./importTraceHooks.mjs", import.meta.url, { data: { file } });
