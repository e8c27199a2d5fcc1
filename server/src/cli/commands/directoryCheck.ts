import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { z } from "zod";
import { systemActor } from "../../actor.js";
import { runDirectoryChecks, formatCheckTable } from "../../directory/conformance.js";
import { signDirectoryToken } from "../../directory/directoryToken.js";
import { GrantKeys } from "../../impersonation/signingKeys.js";
import { UsageError } from "./command.js";

/**
 * `directory-check`: runs the directory contract's conformance checks against a product's
 * implementation and prints a pass/fail table (exit 1 on any fail). It signs its requests with
 * Steward's key (--key: the IMPERSONATION_KEYS_FILE key set, or a PKCS#8 PEM), so the product
 * verifies them against Steward's JWKS exactly as it will in production.
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { url: { type: "string" }, key: { type: "string" }, audience: { type: "string" }, user: { type: "string" }, issuer: { type: "string" } } });
  const url = z.url().safeParse(values.url);
  if (!url.success || !/^https?:/.test(url.data)) throw new UsageError("--url: expected the product's http(s) base URL");
  if (!values.key) throw new UsageError("--key: required (Steward's key set file, or a PEM private key)");
  if (!values.audience) throw new UsageError("--audience: required (the id the product checks tokens for)");
  if (!values.user) throw new UsageError("--user: required (a test user whose role the checker may change and restore)");
  const issuer = (values.issuer ?? process.env.PUBLIC_URL ?? "http://127.0.0.1:3000").replace(/\/$/, "");
  let text: string;
  try {
    text = readFileSync(values.key, "utf8");
  } catch {
    throw new UsageError(`--key: cannot read ${values.key}`);
  }
  const keys = new GrantKeys(text.trimStart().startsWith("-----BEGIN") ? { kind: "env", pem: text } : { kind: "file", path: values.key, create: false });
  const audience = values.audience;
  const rows = await runDirectoryChecks({
    url: url.data,
    userId: values.user,
    sign: (o) => signDirectoryToken(keys, { actor: systemActor("directory-check"), ticketId: null, ...(o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {}) }, { issuer, audience: o.audience ?? audience }, new Date()),
  });
  process.stdout.write(formatCheckTable(rows));
  return rows.every((r) => r.pass) ? 0 : 1;
}
