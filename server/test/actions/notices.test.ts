import request from "supertest";
import { describe, expect, it } from "vitest";
import type { AvailableActions } from "../../../shared/schemas/availability.js";
import { databaseKinds } from "../support/databases.js";
import { raisedBy } from "../support/tickets.js";
import { act, auditCount, auditOf, sessionOf, useHarness, versionOf, type Harness } from "./harness.js";

/**
 * "Notify the customer", through the HTTP API on both databases: the available actions carry the
 * email each action would send (recipients, subject, text naming the ticket); the agent's choice
 * queues it in the action's transaction; the security notice after a password or 2FA reset is sent
 * whatever the request says, and asking to turn it off is a 400 that changes nothing.
 */
async function available(h: Harness, target: { type: string; id: string }, ticketId?: string, customerLocale?: string): Promise<AvailableActions> {
  const res = await request(h.app)
    .get("/api/actions/available")
    .query({ targetType: target.type, targetId: target.id, ...(ticketId ? { ticketId } : {}), ...(customerLocale ? { customerLocale } : {}) })
    .set("Authorization", `Bearer ${await sessionOf(h, "operations")}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as AvailableActions;
}

const noticeFor = (result: AvailableActions, action: string) => result.actions.find((a) => a.action === action)?.notice;

async function mailsFor(h: Harness, ticketId: string) {
  return h.deps.database.db.selectFrom("mail_outbox").select(["kind", "to_address", "subject", "body_text", "account_id", "user_id"]).where("ticket_id", "=", ticketId).orderBy("to_address").execute();
}

describe.each(databaseKinds)("customer notices (%s)", (kind) => {
  const h = useHarness(kind);

  it("shows each action's email with its recipients and the ticket, mandatory only for the security notices", async () => {
    const account = { type: "account", id: "acc_demo_006" };
    const admins = (await h.deps.database.db.selectFrom("users").select("email").where("account_id", "=", account.id).where("role", "in", ["owner", "admin"]).where("status", "in", ["active", "suspended"]).execute()).map((u) => u.email).sort();
    expect(admins.length).toBeGreaterThan(0);
    const forAccount = await available(h, account, "1006");
    const suspend = noticeFor(forAccount, "account.suspend");
    expect(suspend).toMatchObject({ mandatory: false, subject: "Your workspace is suspended" });
    expect([...(suspend?.to ?? [])].sort()).toEqual(admins);
    expect(suspend?.bodyText).toContain("As part of support ticket #1006, we suspended the workspace");
    expect(noticeFor(forAccount, "seats.change")).toBeNull();
    // Lifting a workspace's suspension opens the workspace, not a member suspended or blocked on their own: the
    // notice must not promise that everyone can sign in.
    const suspendedAccount = await available(h, { type: "account", id: "acc_demo_004" }, "1004");
    const unsuspend = noticeFor(suspendedAccount, "account.unsuspend");
    expect(unsuspend?.bodyText).toContain("we lifted the suspension of the workspace");
    expect(unsuspend?.bodyText).not.toMatch(/everyone|all users/i);

    const forUser = await available(h, { type: "user", id: "usr_demo_008_2" }, "1008");
    const user = await h.deps.database.db.selectFrom("users").select(["email", "name"]).where("id", "=", "usr_demo_008_2").executeTakeFirstOrThrow();
    expect(noticeFor(forUser, "user.mfa_reset")).toMatchObject({ mandatory: true, to: [user.email], subject: "Security notice: two-factor authentication was reset" });
    expect(noticeFor(forUser, "user.mfa_reset")?.bodyText).toMatch(new RegExp(`^Hello ${user.name},\\n\\nAs part of support ticket #1008, our support team reset two-factor authentication`));
    expect(noticeFor(forUser, "user.password_reset")).toMatchObject({ mandatory: true, subject: "Reset your password" });
    expect(noticeFor(forUser, "user.password_reset")?.bodyText).toContain("As requested in your support ticket #1008, here is a link to choose a new password:\n\n[a one-time link]\n\nThe link works once and expires soon.");
    expect(noticeFor(forUser, "user.role_change")).toBeNull();
    // Without a ticket the text says "your support ticket"; a bad ticket id is a 400 naming the field.
    expect(noticeFor(await available(h, { type: "user", id: "usr_demo_008_2" }), "user.suspend")?.bodyText).toContain("As part of your support ticket,");
    const bad = await request(h.app).get("/api/actions/available").query({ targetType: "user", targetId: "usr_demo_008_2", ticketId: "x1" }).set("Authorization", `Bearer ${await sessionOf(h, "operations")}`);
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toContain("query.ticketId");
  });

  it("queues the notice when the agent ticks it, and none when not", async () => {
    const target = { type: "account" as const, id: "acc_demo_001" };
    const ticketId = await raisedBy(h.deps, target, "1001");
    const preview = await available(h, target, ticketId);
    const done = await act(h, "support_full", "account.suspend", { target, ticketId, input: {}, notifyCustomer: true });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const mails = await mailsFor(h, ticketId);
    const shown = noticeFor(preview, "account.suspend");
    expect(mails.map((m) => m.to_address)).toEqual([...(shown?.to ?? [])].sort());
    expect(mails.every((m) => m.kind === "notice:account.suspend" && m.subject === shown?.subject && m.account_id === target.id)).toBe(true);
    // The text sent is the text shown (for the first recipient; the others differ in the greeting).
    expect(mails.find((m) => m.to_address === shown?.to[0])?.body_text).toBe(shown?.bodyText);
    const [entry] = (await auditOf(h.deps, "account.suspend", target.id)).filter((e) => e.outcome === "succeeded");
    expect(entry?.after).toMatchObject({ customerNotice: { to: shown?.to, mandatory: false } });

    const quiet = { type: "user" as const, id: "usr_demo_009_2" };
    const quietTicket = await raisedBy(h.deps, quiet, "1009");
    expect((await act(h, "support_full", "user.sessions_revoke", { target: quiet, ticketId: quietTicket })).status).toBe(200);
    expect(await mailsFor(h, quietTicket)).toEqual([]);
    expect((await act(h, "support_full", "user.sessions_revoke", { target: quiet, ticketId: quietTicket, notifyCustomer: false })).status).toBe(200);
    expect(await mailsFor(h, quietTicket)).toEqual([]);
  });

  it("sends the security notice after a 2FA or password reset whatever the request says; turning it off is a 400 that changes nothing", async () => {
    // Someone with 2FA set up, who can sign in.
    const enrolled = await h.deps.database.db.selectFrom("users").select("id").where("mfa_enrolled", "=", true).where("status", "=", "active").where("blocked", "=", false).where("locked_until", "is", null).orderBy("id").executeTakeFirstOrThrow();
    const target = { type: "user" as const, id: enrolled.id };
    const ticketId = await raisedBy(h.deps, target, "3008");
    const input = { identityVerification: "verified_email_reply", verificationNote: "Replied from the address on file" };
    const version = await versionOf(h.deps, target);
    const audits = await auditCount(h.deps);
    const off = await act(h, "support_full", "user.mfa_reset", { target, ticketId, input, notifyCustomer: false });
    expect(off.status).toBe(400);
    expect(off.body.errors).toEqual([{ field: "body.notifyCustomer", reason: expect.stringContaining("cannot be turned off") }]);
    expect(await versionOf(h.deps, target)).toBe(version);
    expect(await auditCount(h.deps)).toBe(audits);
    expect(await mailsFor(h, ticketId)).toEqual([]);

    expect((await act(h, "support_full", "user.mfa_reset", { target, ticketId, input })).status).toBe(200);
    expect((await mailsFor(h, ticketId)).map((m) => m.kind)).toEqual(["notice:user.mfa_reset"]);
    const reset = await act(h, "support_full", "user.password_reset", { target, ticketId });
    expect(reset.status, JSON.stringify(reset.body)).toBe(200);
    // The reset link's own mail is its notice: one mail, no second one.
    expect((await mailsFor(h, ticketId)).map((m) => m.kind).sort()).toEqual(["notice:user.mfa_reset", "password_reset"]);
    const turnedOff = await act(h, "support_full", "user.password_reset", { target, ticketId, notifyCustomer: false });
    expect(turnedOff.status).toBe(400);
  });

  it("writes the notice in the ticket requester's language where there is a translation (German), else English; the mail sent is the text shown", async () => {
    const target = { type: "account" as const, id: "acc_demo_006" };
    const ticketId = await raisedBy(h.deps, target, "3006");
    const account = await h.deps.database.db.selectFrom("accounts").select("name").where("id", "=", target.id).executeTakeFirstOrThrow();
    const english = noticeFor(await available(h, target, ticketId), "account.suspend");
    for (const locale of ["fr-FR", "en-GB"]) expect(noticeFor(await available(h, target, ticketId, locale), "account.suspend"), locale).toEqual(english);
    const shown = noticeFor(await available(h, target, ticketId, "de-DE"), "account.suspend");
    expect(shown).toMatchObject({ mandatory: false, to: english?.to, subject: "Ihr Workspace ist suspendiert" });
    expect(shown?.bodyText).toMatch(/^Hallo .+,\n\n/);
    expect(shown?.bodyText?.endsWith(`im Rahmen Ihres Support-Tickets #${ticketId} haben wir den Workspace ${account.name} suspendiert: Niemand kann sich anmelden, bis die Suspendierung aufgehoben ist; die Abrechnung läuft wie bisher weiter.\n\nWenn Sie Fragen haben, antworten Sie auf Ihr Support-Ticket.`)).toBe(true);
    // The German customer is written to in German.
    const done = await act(h, "support_full", "account.suspend", { target, ticketId, input: {}, notifyCustomer: true, customerLocale: "de-DE" });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const mails = await mailsFor(h, ticketId);
    expect(mails.map((m) => m.to_address)).toEqual([...(shown?.to ?? [])].sort());
    expect(mails.every((m) => m.subject === "Ihr Workspace ist suspendiert")).toBe(true);
    expect(mails.find((m) => m.to_address === shown?.to[0])?.body_text).toBe(shown?.bodyText);

    // Security notices and the reset link's own mail too; a locale without a translation reads English.
    const enrolled = await h.deps.database.db.selectFrom("users").select(["id", "name"]).where("mfa_enrolled", "=", true).where("status", "=", "active").where("blocked", "=", false).where("locked_until", "is", null).orderBy("id", "desc").executeTakeFirstOrThrow();
    const user = { type: "user" as const, id: enrolled.id };
    const userTicket = await raisedBy(h.deps, user, "3018");
    const forUser = await available(h, user, userTicket, "de");
    expect(noticeFor(forUser, "user.mfa_reset")?.subject).toBe("Sicherheitshinweis: Die Zwei-Faktor-Authentifizierung wurde zurückgesetzt");
    expect(noticeFor(forUser, "user.mfa_reset")?.bodyText).toContain("Wenn Sie das nicht angefordert haben, antworten Sie bitte auf diese E-Mail");
    expect(noticeFor(forUser, "user.password_reset")).toMatchObject({ mandatory: true, subject: "Setzen Sie Ihr Passwort zurück" });
    expect((await act(h, "support_full", "user.mfa_reset", { target: user, ticketId: userTicket, input: { identityVerification: "verified_email_reply", verificationNote: "Replied from the address on file" }, customerLocale: "de" })).status).toBe(200);
    expect((await act(h, "support_full", "user.password_reset", { target: user, ticketId: userTicket, customerLocale: "de_AT" })).status).toBe(200);
    const userMails = await h.deps.database.db.selectFrom("mail_outbox").select(["kind", "subject", "body_text"]).where("ticket_id", "=", userTicket).orderBy("kind").execute();
    expect(userMails.map((m) => [m.kind, m.subject])).toEqual([
      ["notice:user.mfa_reset", "Sicherheitshinweis: Die Zwei-Faktor-Authentifizierung wurde zurückgesetzt"],
      ["password_reset", "Setzen Sie Ihr Passwort zurück"],
    ]);
    expect(userMails[1]?.body_text?.startsWith(`Hallo ${enrolled.name},\n\nwie in Ihrem Support-Ticket #${userTicket} gewünscht, erhalten Sie hier einen Link`)).toBe(true);
    expect(userMails[1]?.body_text).toMatch(/Der Link funktioniert einmal und läuft am .+ \(UTC\) ab\./);
  });

  it("refuses a customer locale that is not one (400 naming the field), changing nothing", async () => {
    const target = { type: "user" as const, id: "usr_demo_019_4" };
    const res = await act(h, "support_full", "user.sessions_revoke", { target, customerLocale: "deutsch!" });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(["body.customerLocale"]);
    const bad = await request(h.app).get("/api/actions/available").query({ targetType: "user", targetId: target.id, customerLocale: "x" }).set("Authorization", `Bearer ${await sessionOf(h, "operations")}`);
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(["query.customerLocale"]);
  });

  it("refuses a notice for an action that has none (400 naming the field)", async () => {
    const target = { type: "user" as const, id: "usr_demo_019_4" };
    const res = await act(h, "support_full", "user.role_change", { target, input: { role: "billing" }, notifyCustomer: true });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(["body.notifyCustomer"]);
  });
});
