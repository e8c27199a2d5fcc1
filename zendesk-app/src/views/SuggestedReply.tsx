import { useEffect, useState } from "preact/hooks";
import { currentLocale, hasMessage, t, tIn } from "../i18n";
import { useServices } from "../state/services";

/**
 * After an action the customer asked for, a public reply saying what was done, in the ticket's
 * language when there is a translation (the requester's Zendesk locale), which the agent can put into
 * Zendesk's reply composer to review and send. Nothing for actions without a suggested reply.
 */
export function SuggestedReply({ action }: { action: string }) {
  const { zendesk, ticket } = useServices();
  const [reply, setReply] = useState<{ language: string; text: string } | null>(null);
  const [inserted, setInserted] = useState<"no" | "yes" | "failed">("no");
  const key = `reply.${action}`;
  useEffect(() => {
    if (!hasMessage(key)) return;
    let live = true;
    const name = ticket.requester.name?.split(" ")[0] ?? "";
    void tIn(ticket.requester.locale ?? "en", key, { name }).then((r) => live && setReply(r));
    return () => {
      live = false;
    };
  }, [key, ticket.requester.locale, ticket.requester.name]);
  if (!reply) return null;
  const language = new Intl.DisplayNames([currentLocale()], { type: "language" }).of(reply.language) ?? reply.language;
  return (
    <div class="reply" data-testid="suggested-reply" data-language={reply.language}>
      <h3>{t("reply.title", { language })}</h3>
      <p class="reply-text" lang={reply.language}>
        {reply.text}
      </p>
      <button
        type="button"
        class="c-btn c-btn--sm"
        data-testid="insert-reply"
        disabled={inserted === "yes"}
        onClick={() => zendesk.appendToReply(reply.text).then(() => setInserted("yes"), () => setInserted("failed"))}
      >
        {t("reply.insert")}
      </button>
      {inserted !== "no" && <span class="muted" role="status"> {t(inserted === "yes" ? "reply.inserted" : "reply.insert_failed")}</span>}
    </div>
  );
}
