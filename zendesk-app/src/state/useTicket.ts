import { useEffect, useState } from "preact/hooks";
import { chooseLocale } from "../i18n";
import type { TicketInfo, ZendeskHost } from "../zaf/client";

/** The open ticket and its requester, read again whenever Zendesk says the requester changed. */
export function useTicket(zendesk: ZendeskHost): { ticket: TicketInfo | null; error: string | null } {
  const [ticket, setTicket] = useState<TicketInfo | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    let pending: ReturnType<typeof setTimeout> | undefined;
    const read = () =>
      zendesk.readTicket().then(
        async (info) => {
          // The strings first: the sidebar's first paint is already in the agent's language.
          await chooseLocale(info.locale);
          if (cancelled) return;
          setTicket(info);
          setError(null);
        },
        (err: Error) => !cancelled && setError(err.message),
      );
    void read();
    // The email and id events often fire together: read once for both.
    zendesk.onRequesterChanged(() => {
      clearTimeout(pending);
      pending = setTimeout(() => void read(), 30);
    });
    return () => {
      cancelled = true;
      clearTimeout(pending);
    };
  }, [zendesk]);

  return { ticket, error };
}
