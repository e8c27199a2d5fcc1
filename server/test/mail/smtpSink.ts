import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

/** One message as the SMTP server received it, with the plain-text body decoded. */
export interface ReceivedMail {
  to: string[];
  from: string;
  subject: string;
  /** The Message-ID header as sent. */
  messageId: string;
  text: string;
  raw: string;
}

/** RFC 2045 quoted-printable (nodemailer uses it for long lines such as a reset link). */
function decodeQuotedPrintable(body: string): string {
  return body.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function parse(raw: string, to: string[], from: string): ReceivedMail {
  const split = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, " ");
  const body = raw.slice(split + 4);
  const header = (name: string) => new RegExp(`^${name}: (.*)$`, "im").exec(head)?.[1]?.trim() ?? "";
  const text = /quoted-printable/i.test(header("Content-Transfer-Encoding")) ? decodeQuotedPrintable(body) : body;
  return { to, from, subject: header("Subject"), messageId: header("Message-ID"), text: Buffer.from(text, "latin1").toString("utf8").replace(/\r\n/g, "\n").trimEnd(), raw };
}

/**
 * A real SMTP server on loopback (the smtp-server package) that keeps what it receives, or refuses
 * every recipient with 550 while `rejecting` is set. Fault tests hook in before a recipient is
 * accepted (nothing received yet) and between receiving a message and acknowledging it (the window
 * where a crash loses the ack).
 */
export class SmtpSink {
  readonly received: ReceivedMail[] = [];
  rejecting = false;
  /** Called as each RCPT TO arrives, with how many recipients came before. */
  onRecipient: ((seen: number) => void) | undefined;
  /** Called once a message is fully received and kept, before the 250 goes back. */
  beforeAck: ((mail: ReceivedMail) => Promise<void> | void) | undefined;
  private recipients = 0;
  private readonly server: SMTPServer;
  private port = 0;

  constructor() {
    this.server = new SMTPServer({
      disabledCommands: ["STARTTLS", "AUTH"],
      logger: false,
      onRcptTo: (_address, _session, callback) => {
        this.onRecipient?.(this.recipients++);
        if (!this.rejecting) return callback();
        callback(Object.assign(new Error("Mailbox unavailable"), { responseCode: 550 }));
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
          const mail = parse(Buffer.concat(chunks).toString("latin1"), session.envelope.rcptTo.map((r) => r.address), from);
          this.received.push(mail);
          void Promise.resolve(this.beforeAck?.(mail)).then(() => callback());
        });
      },
    });
  }

  async start(): Promise<string> {
    // A client killed mid-session (fault tests) resets its connection: expected, not an error.
    this.server.on("error", () => undefined);
    await new Promise<void>((resolve, reject) => {
      this.server.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
    this.port = (this.server.server.address() as AddressInfo).port;
    return this.url;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
