import { useEffect, useState } from "preact/hooks";
import type { SearchHit } from "../../../shared/schemas/context";
import { StewardApiError } from "../api/steward";
import { t, tOr } from "../i18n";
import { useServices } from "../state/services";
import { Notice, ProblemNotice } from "./parts";

interface SearchPage {
  hits: SearchHit[];
  nextCursor: string | null;
}

function HitButton({ hit, onPick }: { hit: SearchHit; onPick: (userId: string) => void }) {
  return (
    <li>
      <button type="button" class="hit" onClick={() => onPick(hit.id)} data-testid="pick-user" data-user-id={hit.id}>
        <span class="hit-title">{hit.title}</span>
        <span class="hit-sub">
          {hit.subtitle} · {tOr(`status.${hit.status}`, hit.status)}
        </span>
      </button>
    </li>
  );
}

/**
 * Shown when the requester matches no user or several: pick one of the candidates or search
 * (accounts, users, ids, emails); the pick is remembered for this ticket.
 */
export function RequesterPicker(props: { reason: "unmatched" | "ambiguous" | "no_email" | "change"; candidates: SearchHit[]; onPick: (userId: string) => void; onCancel?: () => void }) {
  const { api, ticket } = useServices();
  const [query, setQuery] = useState("");
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [problem, setProblem] = useState<StewardApiError | null>(null);

  useEffect(() => {
    const q = query.trim();
    if (q.length < 2) {
      setHits(null);
      setProblem(null);
      return;
    }
    let cancelled = false;
    const timer = setTimeout(() => {
      api.get<SearchPage>("/api/search", { q, limit: 10 }).then(
        (page) => {
          if (cancelled) return;
          setHits(page.hits.filter((hit) => hit.kind === "user"));
          setProblem(null);
        },
        (err: unknown) => !cancelled && err instanceof StewardApiError && setProblem(err),
      );
    }, 250);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [api, query]);

  const users = props.candidates.filter((hit) => hit.kind === "user");
  return (
    <section class="card picker" aria-labelledby="picker-title" data-testid="requester-picker">
      <h2 id="picker-title">{t("picker.title")}</h2>
      <Notice tone="info">{t(`picker.reason.${props.reason}`, { email: ticket.requester.email ?? "—" })}</Notice>
      {users.length > 0 && (
        <>
          <h3>{t("picker.candidates")}</h3>
          <ul class="hits" data-testid="candidates">
            {users.map((hit) => (
              <HitButton key={hit.id} hit={hit} onPick={props.onPick} />
            ))}
          </ul>
        </>
      )}
      <div class="c-field">
        <label class="c-field__label" for="picker-q">
          {t("picker.search_label")}
        </label>
        <input id="picker-q" class="c-field__input" type="search" autocomplete="off" value={query} onInput={(e) => setQuery(e.currentTarget.value)} placeholder={t("picker.search_placeholder")} />
      </div>
      {problem && <ProblemNotice problem={problem.problem} />}
      {hits && (
        <ul class="hits" data-testid="search-hits" aria-live="polite">
          {hits.length === 0 ? <li class="muted">{t("picker.no_hits")}</li> : hits.map((hit) => <HitButton key={hit.id} hit={hit} onPick={props.onPick} />)}
        </ul>
      )}
      {props.onCancel && (
        <button type="button" class="c-btn c-btn--basic c-btn--sm" onClick={props.onCancel}>
          {t("common.cancel")}
        </button>
      )}
    </section>
  );
}
