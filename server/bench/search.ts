import { benchArgs, dataSetArgs, dataSetOptionsOf, directoryArg, directoryKindOf, wholeNumberArg, type DataSetOptions, type DirectoryKind } from "./benchArgs.js";
import { DEMO_AGENTS } from "../src/seed/demoAgents.js";
import { prng } from "../src/seed/prng.js";

const USAGE = `usage: npm run bench:search -- [--database postgres://…] [--data-dir DIR] [--accounts N] [--users-per-account N] [--queries N]
                                 [--directory builtin|http]

p50/p95 of GET /api/search (end to end: session, query, audit entry) and of the search query alone, per kind
of input: exact emails, ids, email prefixes, name fragments, typos, no match. Queries are drawn from random
synthetic users and accounts; each kind is warmed up first. --directory http runs the same queries again with
the demo product as the directory (its own process on loopback, its own PGlite beside --data-dir, filled once),
after the built-in directory, in the same run.`;

const values = benchArgs(USAGE, {
  ...dataSetArgs,
  queries: { type: "string", default: "40" },
  ...directoryArg,
});
const whole = wholeNumberArg;
const options: DataSetOptions = dataSetOptionsOf(values);
const QUERIES = whole("queries", values.queries);
const DIRECTORIES: DirectoryKind[] = directoryKindOf(values.directory) === "http" ? ["builtin", "http"] : ["builtin"];

// What it measures loads once the arguments parsed, so --help needs none of it.
const { redactUrl } = await import("../src/db/database.js");
const { searchDirectory } = await import("../src/lookup/search.js");
const { openDataSet, percentile } = await import("./lookupSetup.js");
const { startAppWithDirectory } = await import("./productDirectory.js");

const random = prng(7);
const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)] as T;

/** Two neighbouring letters swapped somewhere in the word: the commonest slip. */
function swapTwo(word: string): string {
  const chars = [...word];
  if (chars.length < 3) return word;
  const i = 1 + Math.floor(random() * (chars.length - 2));
  [chars[i], chars[i - 1]] = [chars[i - 1] as string, chars[i] as string];
  return chars.join("");
}

interface Sample {
  user_id: string;
  email: string;
  name: string;
  idp_id: string | null;
  account_id: string;
  account_name: string;
  domain: string | null;
  billing_customer_id: string | null;
}

const KINDS: Record<string, (s: Sample) => string> = {
  "exact email": (s) => s.email,
  "id (user/account/customer/idp)": (s) => pick([s.user_id, s.account_id, s.billing_customer_id ?? s.account_id, s.idp_id ?? s.user_id]),
  "email prefix": (s) => s.email.slice(0, 3 + Math.floor(random() * 6)),
  "name fragment": (s) => {
    const word = pick([...s.name.split(" "), ...s.account_name.split(" ").slice(0, 2)]);
    return word.slice(0, Math.max(3, word.length - Math.floor(random() * 3)));
  },
  "full name": (s) => s.name,
  "typo in email (jhon@…)": (s) => `${swapTwo(s.email.split("@")[0] ?? "")}@${random() < 0.5 ? "" : (s.email.split("@")[1] ?? "")}`,
  "typo in a name": (s) => swapTwo(pick(s.name.split(" "))),
  "no match": () => `zq${Math.floor(random() * 1e6).toString(36)}xv`,
};

async function main(): Promise<void> {
  const database = await openDataSet(options);
  process.stdout.write(`database: ${database.kind} ${options.databaseUrl ? redactUrl(options.databaseUrl) : options.dataDir}\n`);
  const wanted = Array.from({ length: (QUERIES + 10) * 2 }, () => `usr_s${String(1 + Math.floor(random() * options.accounts)).padStart(7, "0")}_${1 + Math.floor(random() * options.usersPerAccount)}`);
  const samples = (await database.db
    .selectFrom("users as u")
    .innerJoin("accounts as a", "a.id", "u.account_id")
    .select(["u.id as user_id", "u.email", "u.name", "u.idp_id", "a.id as account_id", "a.name as account_name", "a.domain", "a.billing_customer_id"])
    .where("u.id", "in", wanted)
    .execute()) as Sample[];

  for (const directory of DIRECTORIES) {
    const app = await startAppWithDirectory(directory, options, database);
    const token = await app.session(DEMO_AGENTS[0].zendeskUserId);
    const viaHttp = async (q: string) => {
      const started = performance.now();
      const res = await fetch(`${app.baseUrl}/api/search?q=${encodeURIComponent(q)}&limit=20`, { headers: { authorization: `Bearer ${token}`, "x-ticket-id": "4242" } });
      const body = (await res.json()) as { hits?: unknown[] };
      if (!res.ok) throw new Error(`search ${JSON.stringify(q)} answered ${res.status}: ${JSON.stringify(body)}`);
      return { ms: performance.now() - started, hits: body.hits?.length ?? 0 };
    };
    const direct = async (q: string) => {
      const started = performance.now();
      await searchDirectory(database.db, { q, limit: 20 }, { similarTermsBeside: database.kind === "postgres" });
      return performance.now() - started;
    };

    process.stdout.write(`\n${directory} directory: ${QUERIES} queries per kind, one at a time, after a warm-up; ${options.accounts} accounts × ${options.usersPerAccount} users\n`);
    process.stdout.write(`${"kind of query".padEnd(32)} ${"HTTP p50".padStart(9)} ${"HTTP p95".padStart(9)} ${"SQL p50".padStart(8)} ${"SQL p95".padStart(8)} ${"max".padStart(7)} ${"w/ hits".padStart(8)}  example\n`);
    for (const [kind, make] of Object.entries(KINDS)) {
      for (let i = 0; i < 5; i++) await viaHttp(make(pick(samples)));
      const http: number[] = [];
      const sqlOnly: number[] = [];
      let withHits = 0;
      let example = "";
      for (let i = 0; i < QUERIES; i++) {
        const q = make(samples[i % samples.length] as Sample);
        example ||= q;
        const r = await viaHttp(q);
        http.push(r.ms);
        if (r.hits > 0) withHits++;
        sqlOnly.push(await direct(q));
      }
      http.sort((a, b) => a - b);
      sqlOnly.sort((a, b) => a - b);
      const f = (n: number) => n.toFixed(1).padStart(8);
      process.stdout.write(`${kind.padEnd(32)} ${f(percentile(http, 50))} ${f(percentile(http, 95))} ${f(percentile(sqlOnly, 50))} ${f(percentile(sqlOnly, 95))} ${f(http.at(-1) ?? 0)} ${`${withHits}/${QUERIES}`.padStart(8)}  ${JSON.stringify(example)}\n`);
    }
    await app.stop();
  }
  await database.close();
}

main().catch((err) => {
  process.stderr.write(`bench:search failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
