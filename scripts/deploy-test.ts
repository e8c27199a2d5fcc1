import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest, Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SignJWT, importPKCS8 } from "jose";
import pg from "pg";
import { benchArgs, wholeNumberArg } from "../server/bench/benchArgs.js";

const USAGE = `usage: npm run test:deploy -- [--lean] [--duration S] [--connections N] [--base-port P] [--postgres postgres://…]

Proves the production topology with real processes: nginx in front of two Steward replicas (npm run build's
dist/, production mode, production dependencies' code) on one PostgreSQL, with the least-privilege roles from
deploy/postgres-roles.sql (migrations as steward_owner, replicas as steward_service). Load goes through the
proxy for --duration seconds (default 12) over --connections keep-alive connections (default 16); one replica
is killed with SIGKILL halfway. With --lean the replicas run from a copy holding only dist/ and the
production dependencies (npm ci --omit=dev), as a production image has them. Prints requests sent / failed / failed on the killed replica, checks the client
IP the replicas log through the proxy, that the service role cannot rewrite the audit log, and that the audit
log verifies. Installs Debian's nginx when missing (as root). Loopback only; exits non-zero on any failure.`;

const values = benchArgs(USAGE, {
  duration: { type: "string", default: "12" },
  connections: { type: "string", default: "16" },
  "base-port": { type: "string", default: "41960" },
  postgres: { type: "string", default: process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
  lean: { type: "boolean", default: false },
});
const DURATION_S = wholeNumberArg("duration", values.duration);
const CONNECTIONS = wholeNumberArg("connections", values.connections);
const BASE_PORT = wholeNumberArg("base-port", values["base-port"]);
const PROXY_PORT = BASE_PORT;
const REPLICA_PORTS = [BASE_PORT + 1, BASE_PORT + 2] as const;
// The load comes from another loopback address than nginx's, so the replicas can tell the two apart.
const CLIENT_ADDRESS = "127.0.0.3";
const SUBDOMAIN = "steward-deploy-test";
const INSTALLATION = "9000001";

const root = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "steward-deploy-"));
const children: ChildProcess[] = [];
const failures: string[] = [];

function check(ok: boolean, what: string): void {
  process.stdout.write(`${ok ? "ok  " : "FAIL"}  ${what}\n`);
  if (!ok) failures.push(what);
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd = root): string {
  const result = spawnSync(cmd, args, { cwd, env, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

function nginxBinary(): string {
  for (const candidate of ["/usr/sbin/nginx", "/usr/bin/nginx"]) if (existsSync(candidate)) return candidate;
  if (process.getuid?.() !== 0) throw new Error("nginx is not installed: apt-get install nginx (as root), then run again");
  process.stdout.write("installing Debian's nginx (not started as a service)…\n");
  // policy-rc.d keeps the package from starting a system-wide nginx on port 80.
  writeFileSync("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    run("apt-get", ["update", "-qq"]);
    run("apt-get", ["install", "-y", "-qq", "nginx-light"], { ...process.env, DEBIAN_FRONTEND: "noninteractive" });
  } finally {
    rmSync("/usr/sbin/policy-rc.d", { force: true });
  }
  return "/usr/sbin/nginx";
}

function databaseUrl(user: string, database: string): string {
  const url = new URL(values.postgres);
  url.username = user;
  url.password = "";
  url.pathname = `/${database}`;
  return url.toString();
}

function waitForExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function nginxConf(): string {
  return `worker_processes 1;
daemon off;
pid ${work}/nginx.pid;
error_log ${work}/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log ${work}/nginx-access.log;
  client_body_temp_path ${work}/body; proxy_temp_path ${work}/proxy; fastcgi_temp_path ${work}/fcgi;
  uwsgi_temp_path ${work}/uwsgi; scgi_temp_path ${work}/scgi;
  upstream steward {
${REPLICA_PORTS.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;`).join("\n")}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${PROXY_PORT};
    # Which replica answered, for the tally only: the shipped proxy file does not tell clients its upstreams.
    # (Inherited by the included location, which sets no add_header of its own.)
    add_header X-Upstream $upstream_addr always;
    include ${join(root, "deploy/nginx-proxy.conf")};
  }
}
`;
}

interface Tally {
  sent: number;
  ok: number;
  failed: number;
  failedOnKilled: number;
  byUpstream: Map<string, number>;
  /** Failed requests by HTTP status (0: no answer), so a refusal is told apart from a dropped connection. */
  byStatus: Map<number, number>;
}

function get(agent: Agent, path: string, headers: Record<string, string>): Promise<{ status: number; upstream: string }> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: "127.0.0.1", port: PROXY_PORT, path, agent, localAddress: CLIENT_ADDRESS, headers, timeout: 10_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, upstream: String(res.headers["x-upstream"] ?? "") }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve({ status: 0, upstream: "" }));
    req.end();
  });
}

async function main(): Promise<void> {
  if (!existsSync(join(root, "dist/server/src/main.js"))) {
    process.stdout.write("no dist/: running npm run build first\n");
    run("npm", ["run", "--silent", "build"]);
  }
  // Where the replicas run from: the checkout, or (--lean) a copy with dist/ and production dependencies only.
  let appRoot = root;
  if (values.lean) {
    appRoot = join(work, "app");
    cpSync(join(root, "dist"), join(appRoot, "dist"), { recursive: true });
    for (const file of ["package.json", "package-lock.json"]) cpSync(join(root, file), join(appRoot, file));
    const installStarted = Date.now();
    run("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund", "--ignore-scripts"], process.env, appRoot);
    check(!existsSync(join(appRoot, "node_modules", "vite")) && !existsSync(join(appRoot, "node_modules", "tsx")), `lean copy: npm ci --omit=dev in ${((Date.now() - installStarted) / 1000).toFixed(1)} s, no vite or tsx installed`);
  }
  const nginx = nginxBinary();
  const dbName = `steward_deploy_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: values.postgres });
  await admin.connect();

  // Roles and database exactly as the production guide has them.
  const adminUrl = new URL(values.postgres);
  run("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", `db=${dbName}`, "-h", adminUrl.hostname, "-p", adminUrl.port || "5432", "-U", adminUrl.username || "postgres", "-d", adminUrl.pathname.slice(1) || "postgres", "-f", "deploy/postgres-roles.sql"]);

  // The key that signs impersonation grants (EC P-256, PKCS#8), one for every replica.
  const grantKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const publicPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  writeFileSync(join(work, "zaf.pem"), publicPem);
  const signingKey = await importPKCS8(privateKey.export({ type: "pkcs8", format: "pem" }).toString(), "RS256");
  // One key for every replica: any of them may deliver mail another queued.
  const mailSecretKey = randomBytes(32).toString("base64");
  // One audit key for every replica and the CLI: the key the database never holds.
  const auditKey = randomBytes(32).toString("hex");
  const production = (user: string): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    STEWARD_MODE: "production",
    DATABASE_URL: databaseUrl(user, dbName),
    ZENDESK_SUBDOMAIN: SUBDOMAIN,
    ZAF_APP_PUBLIC_KEY_FILE: join(work, "zaf.pem"),
    ZAF_INSTALLATION_ID: INSTALLATION,
    SESSION_SECRET: randomBytes(32).toString("hex"),
    MAIL_SECRET_KEY: mailSecretKey,
    AUDIT_SEAL_KEY: auditKey,
    IMPERSONATION_SIGNING_KEY: grantKey.replace(/\n/g, "\\n"),
    PUBLIC_URL: `https://steward.deploy-test.invalid`,
    // Required in production; this test makes no writes, so Zendesk is never asked.
    ZENDESK_API_EMAIL: "steward@deploy-test.invalid",
    ZENDESK_API_TOKEN: "deploy-test-token",
    PRODUCT_RESET_URL: "https://app.deploy-test.invalid/reset-password",
    TRUST_PROXY: "127.0.0.1",
    LOG_LEVEL: "debug",
    DATA_DIR: join(work, "data"),
    // The load below measures failover, not the limiter: four agents at full speed would spend their
    // 120 searches a minute in the first second. The shared limit across processes is tested in
    // server/test/security/rateLimits.test.ts.
    RATE_LIMIT_SEARCHES: "1000000",
    RATE_LIMIT_READS: "1000000",
    RATE_LIMIT_PER_IP: "1000000",
    ...(process.env.DEPLOY_TEST_ENV ? (JSON.parse(process.env.DEPLOY_TEST_ENV) as Record<string, string>) : {}),
  });

  try {
    const sharedSecret = randomBytes(32).toString("hex");
    const env = (user: string) => ({ ...production(user), SESSION_SECRET: sharedSecret });
    run(process.execPath, ["dist/server/src/cli/migrate.js"], env("steward_owner"), appRoot);
    run("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", adminUrl.hostname, "-p", adminUrl.port || "5432", "-U", "steward_owner", "-d", dbName, "-f", "deploy/postgres-grants.sql"]);
    check(true, `database ${dbName} migrated as steward_owner; grants applied`);

    const logs: string[][] = [[], []];
    const replicas = REPLICA_PORTS.map((port, i) => {
      const child = spawn(process.execPath, ["dist/server/src/main.js"], { cwd: appRoot, env: { ...env("steward_service"), PORT: String(port), HOST: "127.0.0.1" }, stdio: ["ignore", "pipe", "pipe"] });
      child.stdout?.on("data", (d: Buffer) => logs[i]?.push(d.toString()));
      child.stderr?.on("data", (d: Buffer) => logs[i]?.push(d.toString()));
      children.push(child);
      return child;
    });
    const coldStart = Date.now();
    await Promise.all(REPLICA_PORTS.map((p) => waitReady(`http://127.0.0.1:${p}/readyz`, 60_000))).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}; replica output:\n${logs.map((l) => l.join("").split("\n").slice(-6).join("\n")).join("\n---\n")}`);
    });
    check(true, `two replicas ready as steward_service in ${Date.now() - coldStart} ms (cold start, production mode, dist/)`);

    writeFileSync(join(work, "nginx.conf"), nginxConf());
    const proxy = spawn(nginx, ["-p", work, "-c", join(work, "nginx.conf")], { stdio: "inherit" });
    children.push(proxy);
    await waitReady(`http://127.0.0.1:${PROXY_PORT}/readyz`, 15_000);

    // Sessions through the proxy, from ZAF tokens signed as Zendesk would.
    const now = Math.floor(Date.now() / 1000);
    const sessions: string[] = [];
    for (let agent = 0; agent < 4; agent++) {
      const token = await new SignJWT({ email: `agent${agent}@deploy-test.invalid`, name: `Agent ${agent}` })
        .setProtectedHeader({ alg: "RS256", typ: "JWT" })
        .setIssuer(`https://${SUBDOMAIN}.zendesk.com`)
        .setAudience(INSTALLATION)
        .setSubject(String(880000 + agent))
        .setIssuedAt(now)
        .setJti(randomBytes(8).toString("hex"))
        .setExpirationTime(now + 300)
        .sign(signingKey);
      const res = await fetch(`http://127.0.0.1:${PROXY_PORT}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }) });
      const body = (await res.json()) as { sessionToken?: string };
      if (!res.ok || !body.sessionToken) throw new Error(`session through the proxy failed: ${res.status} ${JSON.stringify(body)}`);
      sessions.push(body.sessionToken);
    }
    check(sessions.length === 4, "four agents got sessions through the proxy (signed ZAF tokens)");
    const hsts = await fetch(`http://127.0.0.1:${PROXY_PORT}/readyz`);
    process.stdout.write(`      (headers through the proxy: strict-transport-security=${hsts.headers.get("strict-transport-security") ?? "none"})\n`);

    // Load through the proxy; replica 0 is killed halfway.
    const tally: Tally = { sent: 0, ok: 0, failed: 0, failedOnKilled: 0, byUpstream: new Map(), byStatus: new Map() };
    const killed = `127.0.0.1:${REPLICA_PORTS[0]}`;
    const stopAt = Date.now() + DURATION_S * 1000;
    let killedAt = 0;
    const killer = setTimeout(() => {
      killedAt = Date.now();
      replicas[0]?.kill("SIGKILL");
    }, (DURATION_S * 1000) / 2);
    const queries = ["alice", "bob@example.com", "acme", "Müller", "zz-no-match"];
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, c) => {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        let n = 0;
        while (Date.now() < stopAt) {
          const q = queries[(c + n++) % queries.length] as string;
          tally.sent++;
          const { status, upstream } = await get(agent, `/api/search?q=${encodeURIComponent(q)}`, { authorization: `Bearer ${sessions[c % sessions.length]}` });
          tally.byUpstream.set(upstream || "(none)", (tally.byUpstream.get(upstream || "(none)") ?? 0) + 1);
          if (status === 200) tally.ok++;
          else {
            tally.failed++;
            tally.byStatus.set(status, (tally.byStatus.get(status) ?? 0) + 1);
            if (upstream.includes(killed) || upstream === "") tally.failedOnKilled++;
          }
        }
        agent.destroy();
      }),
    );
    clearTimeout(killer);
    process.stdout.write(
      `      requests sent ${tally.sent}, succeeded ${tally.ok}, failed ${tally.failed} (of which on the killed replica ${tally.failedOnKilled}; by status ${JSON.stringify(Object.fromEntries(tally.byStatus))}); by upstream ${JSON.stringify(Object.fromEntries(tally.byUpstream))}\n`,
    );
    check(killedAt > 0, `replica on port ${REPLICA_PORTS[0]} killed with SIGKILL mid-load`);
    // The tally below reads X-Upstream, which the test's own server block adds: without it every failure would count as on the killed replica.
    check(tally.ok === 0 || [...tally.byUpstream.keys()].some((u) => u !== "(none)"), "answers name the replica that gave them (X-Upstream, test proxy only)");
    check(tally.failed - tally.failedOnKilled === 0, "no failed requests beyond those in flight on the killed replica");
    check(tally.failedOnKilled <= CONNECTIONS, `failures on the killed replica bounded by the connections in flight (${tally.failedOnKilled} ≤ ${CONNECTIONS})`);

    // Client IPs: the surviving replica logged the client's address, not nginx's, even with a forged X-Forwarded-For.
    await get(new Agent(), "/healthz", { "x-forwarded-for": "203.0.113.66" });
    await new Promise((r) => setTimeout(r, 300));
    const ips = new Set<string>();
    for (const line of (logs[1] ?? []).join("").split("\n")) {
      try {
        const parsed = JSON.parse(line) as { ip?: string };
        if (parsed.ip) ips.add(parsed.ip);
      } catch {
        // not a JSON log line
      }
    }
    check(ips.has(CLIENT_ADDRESS), `replica logs the client IP ${CLIENT_ADDRESS} through the proxy (seen: ${[...ips].join(", ")})`);
    check(!ips.has("203.0.113.66"), "a forged X-Forwarded-For from the client is not believed");

    // Least privilege: the service role cannot rewrite the audit log.
    const service = new pg.Client({ connectionString: databaseUrl("steward_service", dbName) });
    await service.connect();
    const denied = await service.query("update audit_log set reason = 'x'").then(
      () => null,
      (err: Error) => err.message,
    );
    await service.end();
    check(denied !== null && /permission denied/.test(denied), `steward_service cannot UPDATE audit_log (${denied ?? "it could!"})`);

    for (const child of children) child.kill("SIGTERM");
    await Promise.all(children.map(waitForExit));
    // Two replicas ran a sealer each: every committed entry is chained exactly once (the last round runs on SIGTERM).
    const reader = new pg.Client({ connectionString: databaseUrl("steward_service", dbName) });
    await reader.connect();
    const sealed = (
      await reader.query<{ entries: string; seals: string; sealed_entries: string }>(
        "select (select count(*) from audit_log) as entries, (select count(*) from audit_seal) as seals, (select count(distinct entry_seq) from audit_seal) as sealed_entries",
      )
    ).rows[0];
    await reader.end();
    check(
      !!sealed && sealed.entries === sealed.seals && sealed.seals === sealed.sealed_entries,
      `every audit entry sealed exactly once by the two replicas (${sealed?.entries} entries, ${sealed?.seals} seals, ${sealed?.sealed_entries} distinct)`,
    );
    const verify = spawnSync(process.execPath, ["dist/server/src/cli/steward.js", "audit", "verify", "--quiet"], { cwd: appRoot, env: env("steward_service"), encoding: "utf8" });
    check(verify.status === 0, `audit verify after the kill: ${(verify.stdout + verify.stderr).trim().split("\n").at(-1) ?? ""}`);
    // A loop the service role's grants do not allow (the console's counts once) only shows as errors in the log.
    const errors = logs.flatMap((l) => l.join("").split("\n")).filter((line) => /^\{"level":(50|60),/.test(line));
    check(errors.length === 0, `no error in either replica's log (${errors.length}${errors[0] ? `, first: ${errors[0].slice(0, 300)}` : ""})`);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
    await admin.end();
    rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(failures.length ? `\n${failures.length} check(s) failed\n` : "\nall deploy checks passed\n");
  process.exit(failures.length ? 1 : 0);
}

main().catch((err) => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  process.stderr.write(`deploy test failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
