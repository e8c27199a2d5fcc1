/** Customer-facing mail text. Plain text only: it reads the same in every client and the demo outbox. */
export interface MailContent {
  subject: string;
  bodyText: string;
}

/** `expiresAt` null: the text shown to the agent before the link exists. */
export function passwordResetMail(input: { name: string; link: string; expiresAt: string | null; ticketId: string }): MailContent {
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
