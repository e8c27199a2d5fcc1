import { sql } from "kysely";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { deliverDueMail } from "../../src/mail/delivery.js";
import { openMailSecrets, sealMailSecrets } from "../../src/mail/mailSecrets.js";
import { createHarness, HARNESS_TIMEOUT_MS, sessionOf, type Harness } from "../actions/harness.js";
import { capturingLogger } from "../auth/helpers.js";
import { SmtpSink } from "../mail/smtpSink.js";
import { databaseKinds } from "../support/databases.js";
import { raisedBy } from "../support/tickets.js";

/** Every table a reset could leave text in, as one string to search. */
async function databaseText(h: Harness): Promise<string> {
  const { rows } = await sql<{ text: string }>`
    select coalesce((select string_agg(t::text, '|') from mail_outbox t), '')
        || coalesce((select string_agg(t::text, '|') from audit_log t), '')
        || coalesce((select string_agg(t::text, '|') from idempotency_keys t), '')
        || coalesce((select string_agg(t::text, '|') from password_reset_tokens t), '') as text`.execute(h.deps.database.db);
  return rows[0]?.text ?? "";
}

describe.each(databaseKinds)("reset links at rest on %s", (kind) => {
  const smtp = new SmtpSink();
  const log = capturingLogger();
  let h: Harness;
  let app: ReturnType<typeof createApp>;
  beforeAll(async () => {
    await smtp.start();
    h = await createHarness(kind, { env: { SMTP_URL: smtp.url, LOG_LEVEL: "debug" } });
    h.deps.logger = log.logger;
    app = createApp(h.deps);
  }, HARNESS_TIMEOUT_MS);
  afterAll(async () => {
    await h?.close();
    await smtp.close();
  });

  it("keeps the link sealed in the outbox, sends it, then erases it; logs never carry it", async () => {
    const userId = "usr_demo_015_1";
    const version = (await h.deps.database.db.selectFrom("users").select("version").where("id", "=", userId).executeTakeFirstOrThrow()).version;
    const res = await request(app)
      .post("/api/actions/user.password_reset")
      .set("Authorization", `Bearer ${await sessionOf(h, "support_full")}`)
      .send({ ticketId: await raisedBy(h.deps, { type: "user", id: userId }, "1501"), reason: "Customer asked on the ticket", target: { type: "user", id: userId }, expectedVersion: version, input: {} });
    expect(res.status, JSON.stringify(res.body)).toBe(200);

    const row = await h.deps.database.db.selectFrom("mail_outbox").selectAll().where("user_id", "=", userId).executeTakeFirstOrThrow();
    expect(row.secret_sealed).toMatch(/^v1\./);
    const { link } = openMailSecrets(h.deps.config, row.secret_sealed as string);
    expect(link).toMatch(/reset-password\?token=[A-Za-z0-9_-]{43}$/);
    const token = new URL(link as string).searchParams.get("token") as string;
    // Before delivery: the database holds no link, not even inside the sealed text.
    expect(await databaseText(h)).not.toContain(token);
    expect(row.body_text).not.toContain("token=");

    // A refusing SMTP server first: the error is stored and logged, the link is not.
    smtp.rejecting = true;
    expect(await deliverDueMail(h.deps)).toMatchObject({ retrying: 1 });
    smtp.rejecting = false;
    h.deps.clock.advance(60 * 60_000);
    expect(await deliverDueMail(h.deps)).toMatchObject({ sent: 1 });
    expect(smtp.received.at(-1)?.text).toContain(link);

    const after = await h.deps.database.db.selectFrom("mail_outbox").selectAll().where("id", "=", row.id).executeTakeFirstOrThrow();
    expect(after).toMatchObject({ status: "sent", secret_sealed: null });
    expect(await databaseText(h)).not.toContain(token);
    const logged = JSON.stringify(log.lines());
    expect(logged.length).toBeGreaterThan(100);
    expect(logged).not.toContain(token);
  });

  it("cannot be opened without the key the database does not hold", () => {
    const sealed = sealMailSecrets(h.deps.config, { link: "https://app.example.com/reset-password?token=abc" });
    expect(sealed).not.toContain("token=abc");
    expect(() => openMailSecrets({ ...h.deps.config, MAIL_SECRET_KEY: Buffer.alloc(32, 1).toString("base64") }, sealed)).toThrow();
    expect(openMailSecrets(h.deps.config, sealed)).toEqual({ link: "https://app.example.com/reset-password?token=abc" });
  });
});
