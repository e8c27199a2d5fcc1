/** Customer-facing mail text. Plain text only: it reads the same in every client and the demo outbox. */
export interface MailContent {
  subject: string;
  bodyText: string;
}

/** The languages customer mail is written in; any other locale gets English. */
export type MailLanguage = "en" | "de";

/** The mail language for a Zendesk locale ("de", "de-AT", "de_DE" → German); English where there is no translation. */
export function mailLanguageOf(locale: string | null | undefined): MailLanguage {
  return locale?.toLowerCase().split(/[-_]/)[0] === "de" ? "de" : "en";
}

/** `expiresAt` null: the text shown to the agent before the link exists. */
export function passwordResetMail(input: { name: string; link: string; expiresAt: string | null; ticketId: string; language?: MailLanguage }): MailContent {
  if (input.language === "de") {
    const until = input.expiresAt ? `am ${new Intl.DateTimeFormat("de-DE", { dateStyle: "long", timeStyle: "short", timeZone: "UTC" }).format(new Date(input.expiresAt))} (UTC)` : "bald";
    return {
      subject: "Setzen Sie Ihr Passwort zurück",
      bodyText: [
        `Hallo ${input.name},`,
        "",
        `wie in ${input.ticketId ? `Ihrem Support-Ticket #${input.ticketId}` : "Ihrem Support-Ticket"} gewünscht, erhalten Sie hier einen Link, um ein neues Passwort zu wählen:`,
        "",
        input.link,
        "",
        `Der Link funktioniert einmal und läuft ${until} ab.`,
        "Wenn Sie das nicht angefordert haben, können Sie diese E-Mail ignorieren; Ihr Passwort bleibt unverändert.",
      ].join("\n"),
    };
  }
  const expires = input.expiresAt ? `on ${new Date(input.expiresAt).toUTCString()}` : "soon";
  return {
    subject: "Reset your password",
    bodyText: [
      `Hello ${input.name},`,
      "",
      `As requested in ${input.ticketId ? `your support ticket #${input.ticketId}` : "your support ticket"}, here is a link to choose a new password:`,
      "",
      input.link,
      "",
      `The link works once and expires ${expires}.`,
      "If you did not ask for this, you can ignore this email; your password stays as it is.",
    ].join("\n"),
  };
}
