import type { ComponentChildren, RefObject } from "preact";
import { useEffect, useRef } from "preact/hooks";
import type { FieldError, ProblemDetails } from "../../../shared/problem";
import { currentLanguage, hasMessage, t, tOr } from "../i18n";

/** Small building blocks shared by the cards: badges, a titled card with its source, notices. */
export type Tone = "red" | "yellow" | "green" | "blue" | "grey";

export function Badge({ tone, name, children }: { tone: Tone; name: string; children: ComponentChildren }) {
  return (
    <span class={`c-tag c-tag--pill c-tag--${tone}`} data-badge={name}>
      <span>{children}</span>
    </span>
  );
}

export function Card(props: { id: string; title: ComponentChildren; source?: string; children: ComponentChildren; testId?: string }) {
  return (
    <section class="card" aria-labelledby={`${props.id}-title`} data-testid={props.testId ?? props.id}>
      <header class="card-head">
        <h2 id={`${props.id}-title`}>{props.title}</h2>
        {props.source && (
          <span class="source" data-source={props.source}>
            {t("card.source", { source: props.source })}
          </span>
        )}
      </header>
      {props.children}
    </section>
  );
}

export function Facts({ rows }: { rows: [label: string, value: ComponentChildren, key?: string][] }) {
  return (
    <dl class="facts">
      {rows.map(([label, value, key]) => (
        <div key={key ?? label} data-fact={key}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** One function for every render, so Preact calls it when the element appears, not on each re-render. */
const focusOnMount = (el: HTMLDivElement | null) => el?.focus();

/** `focus`: the notice takes focus when it appears (an action's result), so keyboard and screen-reader users land on it. */
/** `noticeRef`: its owner moves focus to it when it chooses (it can take focus then), not only on mount. */
export function Notice({ tone, children, testId, focus, noticeRef }: { tone: "error" | "warning" | "info" | "success"; children: ComponentChildren; testId?: string; focus?: boolean; noticeRef?: RefObject<HTMLDivElement | null> }) {
  return (
    <div class={`notice notice--${tone}`} role={tone === "error" ? "alert" : "status"} data-testid={testId} tabIndex={focus || noticeRef ? -1 : undefined} ref={noticeRef ?? (focus ? focusOnMount : undefined)}>
      {children}
    </div>
  );
}

/**
 * A problem's headline in the agent's language: the words for its code where the sidebar has them,
 * else the server's title. The server's detail is English, so it is shown to English-speaking agents,
 * and to others only when their language has no words for the code (better English than nothing).
 */
export function problemWords(problem: ProblemDetails): { title: string; detail: string | undefined } {
  const key = `problem.${problem.code ?? ""}`;
  if (!hasMessage(key)) return { title: problem.title, detail: problem.detail };
  const words = tOr(key, problem.title);
  return { title: words.charAt(0).toLocaleUpperCase() + words.slice(1), detail: currentLanguage() === "en" ? problem.detail : undefined };
}

/**
 * A problem+json error in place: its headline, its detail and every field error it names. `focus`: an
 * action's refusal is its result, so focus moves to it each time one arrives (the busy form had disabled
 * the focused button, which drops focus to the page body).
 */
/** `reasonOf`: a field error's reason in the agent's words (the action form's fieldReason); else the server's. */
export function ProblemNotice({ problem, skipFields = [], focus, reasonOf = (e) => e.reason }: { problem: ProblemDetails; skipFields?: string[]; focus?: boolean; reasonOf?: (e: FieldError) => string }) {
  const errors = (problem.errors ?? []).filter((e) => !skipFields.includes(e.field));
  const { title, detail } = problemWords(problem);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (focus) box.current?.focus();
  }, [problem, focus]);
  return (
    <Notice tone="error" testId="problem" noticeRef={focus ? box : undefined}>
      <strong data-code={problem.code}>{title}</strong>
      {detail && <p>{detail}</p>}
      {errors.length > 0 && (
        <ul>
          {errors.map((e) => (
            <li key={e.field}>
              <code>{e.field}</code>: {reasonOf(e)}
            </li>
          ))}
        </ul>
      )}
    </Notice>
  );
}
