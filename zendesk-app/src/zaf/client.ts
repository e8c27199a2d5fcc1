import ZAFClient, { type ZafSdkClient } from "zendesk_app_framework_sdk";

/** The ticket requester as Zendesk knows them; any field can be missing on a new or odd ticket. */
export interface TicketRequester {
  zendeskUserId: string | null;
  email: string | null;
  name: string | null;
  externalId: string | null;
  /** The requester's Zendesk locale: the language replies to them are suggested in, and their notices written in. */
  locale: string | null;
}

export interface TicketInfo {
  ticketId: string;
  requester: TicketRequester;
  /** The agent's Zendesk locale, e.g. "de" or "en-US". */
  locale: string;
}

/**
 * The one module that owns the ZAF client: views and hooks call these functions and never touch
 * the SDK or postMessage themselves.
 */
export interface ZendeskHost {
  readTicket(): Promise<TicketInfo>;
  /** Calls `listener` when the requester (or their email) changes on the open ticket. */
  onRequesterChanged(listener: () => void): void;
  resize(heightPx: number): Promise<void>;
  addInternalNote(ticketId: string, body: string): Promise<void>;
  /** Adds text to the ticket's reply composer; the agent reviews and sends it. */
  appendToReply(body: string): Promise<void>;
}

function text(value: unknown): string | null {
  if (typeof value === "string" && value.trim() !== "") return value.trim();
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return null;
}

function wrap(client: ZafSdkClient): ZendeskHost {
  return {
    async readTicket() {
      const result = await client.get(["ticket.id", "ticket.requester", "currentUser.locale"]);
      const failed = result.errors?.["ticket.id"];
      if (failed) throw new Error(`Zendesk did not give the ticket id: ${failed.message}`);
      const ticketId = text(result["ticket.id"]);
      if (!ticketId) throw new Error("Zendesk did not give the ticket id");
      const requester = (result["ticket.requester"] ?? {}) as Record<string, unknown>;
      return {
        ticketId,
        requester: { zendeskUserId: text(requester.id), email: text(requester.email), name: text(requester.name), externalId: text(requester.externalId), locale: text(requester.locale) },
        locale: text(result["currentUser.locale"]) ?? "en",
      };
    },
    onRequesterChanged(listener) {
      client.on("ticket.requester.email.changed", () => listener());
      client.on("ticket.requester.id.changed", () => listener());
    },
    async resize(heightPx) {
      await client.invoke("resize", { height: `${Math.ceil(heightPx)}px` });
    },
    async appendToReply(body) {
      await client.invoke("ticket.comment.appendText", body);
    },
    async addInternalNote(ticketId, body) {
      await client.request({
        url: `/api/v2/tickets/${encodeURIComponent(ticketId)}.json`,
        type: "PUT",
        contentType: "application/json",
        data: JSON.stringify({ ticket: { comment: { body, public: false } } }),
      });
    },
  };
}

/** Null when the page was not opened by Zendesk (no `origin` / `app_guid` in the URL). */
export function connectToZendesk(): ZendeskHost | null {
  const client = ZAFClient.init();
  return client ? wrap(client) : null;
}

/** Keeps the sidebar iframe as tall as its content; the iframe can read 0 tall while activating. */
export function fitFrameToContent(host: ZendeskHost, element: HTMLElement): () => void {
  let last = 0;
  let frame = 0;
  const measure = () => {
    frame = 0;
    const height = Math.ceil(element.getBoundingClientRect().height);
    if (height > 0 && height !== last) {
      last = height;
      host.resize(height).catch(() => {
        last = 0; // try again on the next change
      });
    }
  };
  const observer = new ResizeObserver(() => {
    if (!frame) frame = requestAnimationFrame(measure);
  });
  observer.observe(element);
  measure();
  return () => observer.disconnect();
}
