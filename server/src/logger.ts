import pino, { type Logger } from "pino";

export type { Logger };

/** Structured JSON logs; every request's lines carry its request id (see app.ts). */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "steward" },
      redact: { paths: ["req.headers.authorization", "req.headers.cookie", "token", "*.token", "*.password", "*.secret"], censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
