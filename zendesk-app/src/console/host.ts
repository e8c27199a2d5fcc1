import ZAFClient, { type ZafSdkClient } from "zendesk_app_framework_sdk";

/** What the console needs from Zendesk (nav_bar): who the agent is, and opening a ticket. */
export interface ConsoleAgent {
  locale: string;
  /** IANA zone from currentUser.timeZone; UTC when Zendesk gives none Steward can use. */
  timeZone: string;
}

export interface ConsoleHost {
  readAgent(): Promise<ConsoleAgent>;
  openTicket(ticketId: string): Promise<void>;
}

export function validTimeZone(zone: unknown): string | null {
  if (typeof zone !== "string" || !zone) return null;
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return zone;
  } catch {
    return null;
  }
}

function wrap(client: ZafSdkClient): ConsoleHost {
  return {
    async readAgent() {
      const result = await client.get("currentUser");
      const user = (result.currentUser ?? {}) as Record<string, unknown>;
      // Zendesk gives timeZone as an object (ianaName, name, offset); older payloads as a name.
      const tz = user.timeZone;
      const zone = typeof tz === "object" && tz !== null ? ((tz as Record<string, unknown>).ianaName ?? (tz as Record<string, unknown>).name) : tz;
      return { locale: typeof user.locale === "string" && user.locale ? user.locale : "en", timeZone: validTimeZone(zone) ?? "UTC" };
    },
    async openTicket(ticketId) {
      await client.invoke("routeTo", "ticket", ticketId);
    },
  };
}

/** Null when not opened by Zendesk (no origin / app_guid in the URL). */
export function connectConsole(): ConsoleHost | null {
  const client = ZAFClient.init();
  return client ? wrap(client) : null;
}
