import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Session } from "../api/session";
import type { StewardApi } from "../api/steward";
import type { TicketInfo, ZendeskHost } from "../zaf/client";

/** What views need from outside: the Zendesk host, Steward's API for this ticket, the session. */
export interface Services {
  zendesk: ZendeskHost;
  session: Session;
  api: StewardApi;
  ticket: TicketInfo;
}

export const ServicesContext = createContext<Services | null>(null);

export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) throw new Error("useServices outside ServicesContext");
  return services;
}
