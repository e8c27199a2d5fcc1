import nodemailer from "nodemailer";
import type { Config } from "../config.js";

/** Where mail goes: SMTP (nodemailer) when SMTP_URL is set; none means the outbox holds it (demo). */
export interface MailTransport {
  readonly name: string;
  send(mail: { from: string; to: string; subject: string; text: string; messageId: string }): Promise<void>;
  close(): void;
}

/** Bounded so a stuck SMTP server cannot stall the delivery loop for long. */
const SMTP_TIMEOUT_MS = 15_000;

export function createMailTransport(config: Pick<Config, "SMTP_URL">): MailTransport | null {
  if (!config.SMTP_URL) return null;
  const transporter = nodemailer.createTransport({ url: config.SMTP_URL, connectionTimeout: SMTP_TIMEOUT_MS, greetingTimeout: SMTP_TIMEOUT_MS, socketTimeout: SMTP_TIMEOUT_MS });
  return {
    name: "smtp",
    async send(mail) {
      await transporter.sendMail(mail);
    },
    close() {
      transporter.close();
    },
  };
}
