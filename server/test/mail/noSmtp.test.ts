import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import type { Database } from "../../src/db/database.js";
import { createLogger } from "../../src/logger.js";
import { startMailDelivery } from "../../src/mail/delivery.js";
import { createTestDatabase, testConfig } from "../support/databases.js";

/** Production without SMTP_URL starts (docs/deploy.md: mail waits in the outbox), but says so once, at start. */
describe("mail delivery without SMTP_URL", () => {
  let database: Database;
  beforeAll(async () => {
    database = await createTestDatabase("pglite");
  });
  afterAll(async () => {
    await database.close();
  });

  const startedWith = async (demo: boolean) => {
    const lines: { level: number; msg: string }[] = [];
    const logger = createLogger("info", { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
    const loop = startMailDelivery({ config: { ...testConfig(), demo }, database, clock: systemClock, logger }, { intervalMs: 60_000 });
    await loop.stop();
    return lines;
  };

  it("warns at start in production mode, naming SMTP_URL", async () => {
    expect(await startedWith(false)).toEqual([expect.objectContaining({ level: 40, msg: expect.stringContaining("SMTP_URL is not set") })]);
  });

  it("stays quiet in demo mode, where the outbox is the point", async () => {
    expect(await startedWith(true)).toEqual([]);
  });
});
