import { randomUUID } from "node:crypto";
import type { z } from "zod";
import {
  AccountWithUsers,
  DIRECTORY_BASE_PATH,
  DirectoryProblem,
  DirectorySearchResponse,
  DirectoryUser,
  SettingsDeclaration,
  UserLookupResponse,
} from "../../../shared/directory/contract.js";

/**
 * The conformance checks a product team runs against its implementation of the directory contract
 * (`steward directory-check`): every operation, the error shape, the version check and the
 * idempotent retry. It changes one user's role and puts it back; point it at a test user.
 */
export interface CheckRow {
  check: string;
  pass: boolean;
  detail: string;
}

export interface CheckTarget {
  url: string;
  /** A user the checker may change (its role is changed and restored). */
  userId: string;
  /** Signs a directory token; `audience` overrides the right one (to test that a wrong one is refused). */
  sign(options: { idempotencyKey?: string; audience?: string }): Promise<string>;
  fetch?: typeof fetch;
}

interface Answer {
  status: number;
  contentType: string;
  json: unknown;
}

class CheckFailed extends Error {}

function expectSchema<T extends z.ZodType>(schema: T, answer: Answer, what: string): z.infer<T> {
  if (answer.status !== 200) throw new CheckFailed(`${what}: HTTP ${answer.status}, expected 200 (${JSON.stringify(answer.json)?.slice(0, 160)})`);
  const parsed = schema.safeParse(answer.json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CheckFailed(`${what}: the answer does not match the contract (${issue ? `${issue.path.join(".") || "body"}: ${issue.message}` : "invalid"})`);
  }
  return parsed.data;
}

function expectProblem(answer: Answer, status: number, code: string | null, what: string): DirectoryProblem {
  if (answer.status !== status) throw new CheckFailed(`${what}: HTTP ${answer.status}, expected ${status}`);
  if (!answer.contentType.startsWith("application/problem+json")) throw new CheckFailed(`${what}: content type "${answer.contentType}", expected application/problem+json`);
  const parsed = DirectoryProblem.safeParse(answer.json);
  if (!parsed.success) throw new CheckFailed(`${what}: not a problem+json body with type, title, status and code`);
  if (parsed.data.status !== status) throw new CheckFailed(`${what}: body status ${parsed.data.status}, HTTP ${status}`);
  if (code && parsed.data.code !== code) throw new CheckFailed(`${what}: code "${parsed.data.code}", expected "${code}"`);
  return parsed.data;
}

export async function runDirectoryChecks(target: CheckTarget): Promise<CheckRow[]> {
  const doFetch = target.fetch ?? fetch;
  const base = `${target.url.replace(/\/$/, "")}${DIRECTORY_BASE_PATH}`;
  const call = async (method: string, path: string, options: { body?: unknown; token?: string | null; idempotencyKey?: string } = {}): Promise<Answer> => {
    const token = options.token === undefined ? await target.sign(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}) : options.token;
    const res = await doFetch(`${base}${path}`, {
      method,
      headers: { accept: "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...(options.body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, contentType: res.headers.get("content-type") ?? "", json };
  };
  const userPath = `/users/${encodeURIComponent(target.userId)}`;
  const rows: CheckRow[] = [];
  const check = async (name: string, fn: () => Promise<string>) => {
    try {
      rows.push({ check: name, pass: true, detail: await fn() });
    } catch (err) {
      rows.push({ check: name, pass: false, detail: err instanceof CheckFailed ? err.message : `error: ${err instanceof Error ? err.message : String(err)}` });
    }
  };
  const readUser = async () => expectSchema(DirectoryUser, await call("GET", userPath), "GET user");

  let declared: SettingsDeclaration["settings"] | null = null;
  await check("settings declaration", async () => {
    declared = expectSchema(SettingsDeclaration, await call("GET", "/settings"), "GET /settings").settings;
    return `${declared.length} setting(s)`;
  });
  await check("no token → 401 problem", async () => {
    expectProblem(await call("GET", "/settings", { token: null }), 401, "unauthorized", "without a token");
    return "refused";
  });
  await check("wrong audience → 401 problem", async () => {
    expectProblem(await call("GET", userPath, { token: await target.sign({ audience: `not-${randomUUID()}` }) }), 401, "unauthorized", "another audience");
    return "refused";
  });
  let user: DirectoryUser | null = null;
  await check("get user", async () => {
    user = await readUser();
    if (user.id !== target.userId) throw new CheckFailed(`asked for ${target.userId}, got ${user.id}`);
    return `${user.email}, version ${user.version}`;
  });
  const known = (): DirectoryUser => {
    if (!user) throw new CheckFailed("skipped: the user could not be read");
    return user;
  };
  await check("get account with users", async () => {
    const u = known();
    const answer = expectSchema(AccountWithUsers, await call("GET", `/accounts/${encodeURIComponent(u.accountId)}`), "GET account");
    if (!answer.users.some((x) => x.id === u.id)) throw new CheckFailed("the account's users do not include the user");
    return `${answer.account.name}, ${answer.users.length} user(s)`;
  });
  // An email is one address in any case and either Unicode form (Steward's emailKey: NFC, then lower case):
  // a ticket may spell `José@…` decomposed. An ASCII email has one such spelling.
  await check("lookup by email", async () => {
    const u = known();
    const upper = u.email.toUpperCase();
    const decomposed = u.email.normalize("NFD").toUpperCase();
    let answer: UserLookupResponse | null = null;
    for (const [email, spelling] of [[upper, "in other case"], ...(decomposed === upper ? [] : [[decomposed, "decomposed (NFD), in other case"] as const])] as const) {
      answer = expectSchema(UserLookupResponse, await call("GET", `/users?${new URLSearchParams({ email })}`), "GET /users?email");
      if (!answer.users.some((x) => x.id === u.id)) throw new CheckFailed(`the lookup (email ${spelling}) does not find the user`);
      if (!answer.accounts.some((a) => a.id === u.accountId)) throw new CheckFailed("accounts does not include the user's account");
    }
    return `${answer?.users.length ?? 0} user(s)`;
  });
  // Steward resolves a ticket's requester by the Zendesk external id too, which names the product's user id.
  await check("lookup by id and external id", async () => {
    const u = known();
    for (const by of ["id", "externalId"] as const) {
      const answer = expectSchema(UserLookupResponse, await call("GET", `/users?${new URLSearchParams({ [by]: u.id })}`), `GET /users?${by}`);
      if (!answer.users.some((x) => x.id === u.id)) throw new CheckFailed(`the lookup by ${by} does not find the user`);
      if (!answer.accounts.some((a) => a.id === u.accountId)) throw new CheckFailed(`accounts does not include the user's account (lookup by ${by})`);
    }
    return "found both ways";
  });
  const search = async (q: string, what: string) => expectSchema(DirectorySearchResponse, await call("GET", `/search?${new URLSearchParams({ q, limit: "100" })}`), `GET /search (${what})`);
  await check("search", async () => {
    const u = known();
    const answer = await search(u.email, "email");
    if (!answer.users.some((x) => x.id === u.id)) throw new CheckFailed("searching the user's email does not find the user");
    if (!answer.accounts.some((a) => a.id === u.accountId)) throw new CheckFailed("accounts does not include the user's account");
    return `${answer.users.length} user(s), ${answer.accounts.length} account(s)`;
  });
  // The sidebar's search box takes any of these; Steward ranks what the product returns, so each must be a candidate.
  await check("search by name, id and domain", async () => {
    const u = known();
    if (!(await search(u.name.toLowerCase(), "name in lower case")).users.some((x) => x.id === u.id)) throw new CheckFailed("searching the user's name (lower case) does not find the user");
    if (!(await search(u.id, "user id")).users.some((x) => x.id === u.id)) throw new CheckFailed("searching the user's id does not find the user");
    if (!(await search(u.accountId, "account id")).accounts.some((a) => a.id === u.accountId)) throw new CheckFailed("searching the account's id does not find the account");
    const { account } = expectSchema(AccountWithUsers, await call("GET", `/accounts/${encodeURIComponent(u.accountId)}`), "GET account");
    if (!account.domain) return "found by name and id (the account has no domain to search)";
    if (!(await search(account.domain, "domain")).accounts.some((a) => a.id === account.id)) throw new CheckFailed("searching the account's domain does not find the account");
    return "found by name, id and domain";
  });
  await check("unknown user → 404 problem", async () => {
    expectProblem(await call("GET", `/users/nobody-${randomUUID()}`), 404, "not_found", "an unknown id");
    return "refused";
  });
  await check("invalid write → 400 problem naming the field", async () => {
    const u = known();
    const p = expectProblem(await call("PATCH", userPath, { body: { expectedVersion: u.version, changes: { role: "no-such-role" } }, idempotencyKey: randomUUID() }), 400, null, "an unknown role");
    if (!p.errors?.some((e) => e.field.includes("role"))) throw new CheckFailed("errors[] does not name the role field");
    return p.errors.map((e) => e.field).join(", ");
  });
  await check("undeclared setting or wrong type → 400 problem naming it, nothing changed", async () => {
    const u = known();
    const settingsWrite = async (settings: Record<string, unknown>, what: string, names: string) => {
      const p = expectProblem(await call("PATCH", userPath, { body: { expectedVersion: u.version, changes: { settings } }, idempotencyKey: randomUUID() }), 400, null, what);
      if (!p.errors?.some((e) => e.field.includes(names))) throw new CheckFailed(`errors[] does not name ${names} for ${what}`);
    };
    await settingsWrite({ steward_check_undeclared: true }, "a setting the product does not declare", "settings");
    const first = declared?.[0];
    // A value no declared type accepts as this one: text for a flag or a number, a number for text or a choice.
    if (first) await settingsWrite({ [first.key]: first.type === "boolean" || first.type === "number" ? "not-a-value" : 12_345 }, `a wrong type for ${first.key}`, first.key);
    const after = await readUser();
    if (after.version !== u.version || "steward_check_undeclared" in after.settings) throw new CheckFailed("a refused settings write changed the user");
    return first ? `refused (undeclared, and ${first.key} of the wrong type)` : "refused (no setting declared to try a wrong type on)";
  });
  // A product that took those writes moved the user on: the checks below start from what it holds now.
  if (user) user = await readUser().catch(() => user);
  const newRole = (u: DirectoryUser) => (u.role === "member" ? "viewer" : "member");
  await check("stale write → 409 stale_version, nothing changed", async () => {
    const u = known();
    const p = expectProblem(await call("PATCH", userPath, { body: { expectedVersion: u.version + 1000, changes: { role: newRole(u) } }, idempotencyKey: randomUUID() }), 409, "stale_version", "a write on an old version");
    if (p.currentVersion !== u.version) throw new CheckFailed(`currentVersion ${String(p.currentVersion)}, expected ${u.version}`);
    const after = await readUser();
    if (after.version !== u.version || after.role !== u.role) throw new CheckFailed("the refused write changed the user");
    return `refused, version still ${after.version}`;
  });
  let written: DirectoryUser | null = null;
  const key = randomUUID();
  await check("write applies and bumps the version", async () => {
    const u = known();
    written = expectSchema(DirectoryUser, await call("PATCH", userPath, { body: { expectedVersion: u.version, changes: { role: newRole(u) } }, idempotencyKey: key }), "PATCH user");
    if (written.role !== newRole(u)) throw new CheckFailed(`role ${written.role}, expected ${newRole(u)}`);
    if (written.version <= u.version) throw new CheckFailed(`version ${written.version}, expected more than ${u.version}`);
    return `role ${u.role} → ${written.role}, version ${u.version} → ${written.version}`;
  });
  await check("same idempotency key twice → applied once", async () => {
    const u = known();
    if (!written) throw new CheckFailed("skipped: the write did not apply");
    const first: DirectoryUser = written;
    const again = expectSchema(DirectoryUser, await call("PATCH", userPath, { body: { expectedVersion: u.version, changes: { role: newRole(u) } }, idempotencyKey: key }), "the repeated PATCH");
    if (again.version !== first.version) throw new CheckFailed(`the repeat answered version ${again.version}, the first ${first.version}`);
    const now = await readUser();
    if (now.version !== first.version) throw new CheckFailed(`applied twice: version ${now.version} after the repeat, ${first.version} after the first`);
    return `same answer, version ${now.version}`;
  });
  await check("account stale write → 409 stale_version", async () => {
    const u = known();
    const { account } = expectSchema(AccountWithUsers, await call("GET", `/accounts/${encodeURIComponent(u.accountId)}`), "GET account");
    expectProblem(await call("PATCH", `/accounts/${encodeURIComponent(account.id)}`, { body: { expectedVersion: account.version + 1000, changes: { seatsLicensed: account.seatsLicensed } }, idempotencyKey: randomUUID() }), 409, "stale_version", "an account write on an old version");
    const after = expectSchema(AccountWithUsers, await call("GET", `/accounts/${encodeURIComponent(account.id)}`), "GET account").account;
    if (after.version !== account.version) throw new CheckFailed("the refused write changed the account");
    return "refused";
  });
  await check("restore the user's role", async () => {
    const u = known();
    const now = await readUser();
    if (now.role === u.role) return "nothing to restore";
    const back = expectSchema(DirectoryUser, await call("PATCH", userPath, { body: { expectedVersion: now.version, changes: { role: u.role } }, idempotencyKey: randomUUID() }), "PATCH user back");
    return `role back to ${back.role}`;
  });
  return rows;
}

/** The pass/fail table the CLI prints. */
export function formatCheckTable(rows: CheckRow[]): string {
  const width = Math.max(...rows.map((r) => r.check.length), 5);
  const lines = rows.map((r) => `${r.pass ? "PASS" : "FAIL"}  ${r.check.padEnd(width)}  ${r.detail}`);
  const failed = rows.filter((r) => !r.pass).length;
  return `${lines.join("\n")}\n${failed ? `${failed} of ${rows.length} checks failed` : `all ${rows.length} checks passed`}\n`;
}
