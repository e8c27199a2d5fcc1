import { rmSync } from "node:fs";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI_TIMEOUT, runSteward } from "../support/cli.js";
import { createApp } from "../../src/app.js";
import { verifyZafToken } from "../../src/auth/zafToken.js";
import { zafTrust } from "../../src/auth/zafTrust.js";
import { AGENT, authTestDeps, type TestDeps } from "./helpers.js";
import { PRODUCTION_SETTINGS } from "../support/testConfig.js";

const steward = runSteward;

describe("npm run steward -- dev-token", () => {
  let deps: TestDeps;
  beforeAll(async () => {
    deps = await authTestDeps("pglite");
  });
  afterAll(async () => {
    await deps.database.close();
  });

  it("prints a session token for a demo agent that the server accepts", async () => {
    const { code, stdout } = await steward(["dev-token", "--agent", AGENT.support.zendeskUserId], { STEWARD_MODE: "demo", DATA_DIR: "memory" });
    expect(code).toBe(0);
    const token = stdout.trim();
    deps.clock.set(new Date());
    const res = await request(createApp(deps)).get("/api/session").set("Authorization", `Bearer ${token}`).expect(200);
    expect(res.body.staff).toMatchObject({ id: AGENT.support.id, panelRole: "support_full" });
  }, CLI_TIMEOUT);

  it("prints a ZAF token with --zaf, signed by the DATA_DIR demo key", async () => {
    const dir = `/tmp/steward-devtoken-${process.pid}`;
    const { code, stdout } = await steward(["dev-token", "--agent", AGENT.admin.zendeskUserId, "--zaf", "--ticket", "1001"], { STEWARD_MODE: "demo", DATA_DIR: dir });
    expect(code).toBe(0);
    const config = { ...deps.config, DATA_DIR: dir };
    deps.clock.set(new Date());
    const agent = await verifyZafToken(stdout.trim(), zafTrust(config), deps.clock);
    expect(agent).toMatchObject({ zendeskUserId: AGENT.admin.zendeskUserId, ticketId: "1001", email: AGENT.admin.email });
    rmSync(dir, { recursive: true, force: true });
  }, CLI_TIMEOUT);

  it("refuses outside demo mode and for agents that are not demo agents", async () => {
    const production = await steward(["dev-token", "--agent", "9002"], {
      ...PRODUCTION_SETTINGS,
      DATABASE_URL: "postgres://x@127.0.0.1/x",
      ZAF_APP_PUBLIC_KEY: "unused",
    });
    expect(production.code).toBe(1);
    expect(production.stderr).toContain("only in demo mode");
    expect(production.stdout).toBe("");
    const unknown = await steward(["dev-token", "--agent", "12345"], { STEWARD_MODE: "demo", DATA_DIR: "memory" });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("not a demo agent");
  }, CLI_TIMEOUT);
});
