/** Customer-facing mail text. Plain text only: it reads the same in every client and the demo outbox. */
export interface MailContent {
  subject: string;
  bodyText: string;
}

export function passwordResetMail(input: { name: string; link: string; expiresAt: string; ticketId: string }): MailContent {
  const expires = new Date(input.expiresAt).toUTCString();
  return {
    subject: "Reset your password",
    bodyText: [
      `Hello ${input.name},`,
      "",
      `As requested in your support ticket #${input.ticketId}, here is a link to choose a new password:`,
      "",
      input.link,
      "",
      `The link works once and expires on ${expires}.`,
      "If you did not ask for this, you can ignore this email; your password stays as it is.",
    ].join("\n"),
  };
}
