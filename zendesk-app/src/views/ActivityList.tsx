import type { RequesterContext } from "../../../shared/schemas/context";
import { dateTime } from "../format";
import { t, tOr } from "../i18n";
import { Card, Notice } from "./parts";

/** The account's recent events (sign-ins, failures, payments), newest first. */
export function ActivityList({ context }: { context: RequesterContext }) {
  const part = context.activity;
  return (
    <Card id="activity" title={t("activity.title")} source={part.source}>
      {part.status === "error" ? (
        <Notice tone="warning">{t("part.failed", { part: t("part.activity"), provider: part.error.provider, message: part.error.message })}</Notice>
      ) : part.data.length === 0 ? (
        <p class="muted">{t("activity.none")}</p>
      ) : (
        <ol class="events">
          {part.data.slice(0, 8).map((event, i) => (
            <li key={`${event.at}-${i}`} class={event.type.includes("fail") ? "event event--bad" : "event"}>
              <span class="event-type">{tOr(`event.${event.type}`, event.type)}</span>
              {event.userId && event.userId !== context.user?.id && <span class="muted" data-user-id={event.userId}> · {event.userName ?? event.userId}</span>}
              {event.detail && <span class="muted"> · {event.detail}</span>}
              <time class="event-at" dateTime={event.at}>
                {dateTime(event.at)}
              </time>
            </li>
          ))}
        </ol>
      )}
    </Card>
  );
}
