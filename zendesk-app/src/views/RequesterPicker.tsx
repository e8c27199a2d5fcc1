import { useEffect, useState } from "preact/hooks";
import type { AccountUsers, SearchHit } from "../../../shared/schemas/context";
import { StewardApiError } from "../api/steward";
import { t, tOr } from "../i18n";
import { useServices } from "../state/services";
import { Notice, ProblemNotice } from "./parts";

interface SearchPage {
  hits: SearchHit[];
  nextCursor: string | null;
}

/** `current`: the user the sidebar shows now, marked in words so the agent does not pick them again. */
function HitButton({ hit, onPick, current }: { hit: SearchHit; onPick: (userId: string) => void; current: boolean }) {
  return (
    <li>
      <button type="button" class="hit" onClick={() => onPick(hit.id)} data-testid="pick-user" data-user-id={hit.id} data-current={current || undefined} aria-current={current || undefined}>
        <span class="hit-title">
          {hit.title}
          {current && <span class="hit-kind">{t("picker.current")}</span>}
        </span>
        <span class="hit-sub">
          {hit.subtitle} · {tOr(`status.${hit.status}`, hit.status)}
        </span>
      </button>
    </li>
  );
}

/** An account the search found (by id, domain, customer id, name): opens its users to pick from. */
function AccountButton({ hit, onOpen }: { hit: SearchHit; onOpen: (hit: SearchHit) => void }) {
  return (
    <li>
      <button type="button" class="hit hit--account" onClick={() => onOpen(hit)} data-testid="open-account" data-account-id={hit.id}>
        <span class="hit-title">
          {hit.title} <span class="hit-kind">{t("picker.account_kind")}</span>
        </span>
        <span class="hit-sub">
          {hit.subtitle} · {tOr(`status.${hit.status}`, hit.status)}
        </span>
      </button>
    </li>
  );
}

const focusOnMount = (el: HTMLElement | null) => el?.focus();

/**
 * Shown when the requester matches no user or several: pick one of the candidates or search (users by
 * email, name or id; accounts by name, id, domain or billing customer id, whose users then open to pick
 * from); the pick is remembered for this ticket.
 */
export function RequesterPicker(props: { reason: "unmatched" | "ambiguous" | "no_email" | "change"; candidates: SearchHit[]; onPick: (userId: string) => void; onCancel?: () => void; currentId?: string }) {
  const { api, ticket } = useServices();
  const [query, setQuery] = useState("");
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [problem, setProblem] = useState<StewardApiError | null>(null);
  const [account, setAccount] = useState<AccountUsers | null>(null);
  const openAccount = (hit: SearchHit) =>
    api.get<AccountUsers>(`/api/accounts/${encodeURIComponent(hit.id)}/users`).then(
      (answer) => {
        setAccount(answer);
        setProblem(null);
      },
      (err: unknown) => err instanceof StewardApiError && setProblem(err),
    );

  useEffect(() => {
    setAccount(null); // typing again goes back to the results
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
          setHits(page.hits);
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
              <HitButton key={hit.id} hit={hit} onPick={props.onPick} current={hit.id === props.currentId} />
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
      {account ? (
        <div data-testid="account-users" data-account-id={account.account.id}>
          <h3 tabIndex={-1} ref={focusOnMount}>
            {t("picker.account_users", { account: account.account.title })}
          </h3>
          <ul class="hits">
            {account.users.length === 0 ? <li class="muted">{t("picker.account_empty")}</li> : account.users.map((hit) => <HitButton key={hit.id} hit={hit} onPick={props.onPick} current={hit.id === props.currentId} />)}
          </ul>
          {account.more && <p class="muted">{t("picker.account_more", { count: account.users.length })}</p>}
          <button type="button" class="c-btn c-btn--basic c-btn--sm" data-testid="account-back" onClick={() => setAccount(null)}>
            {t("picker.back")}
          </button>
        </div>
      ) : (
        hits && (
          <ul class="hits" data-testid="search-hits" aria-live="polite">
            {hits.length === 0 ? (
              <li class="muted">{t("picker.no_hits")}</li>
            ) : (
              hits.map((hit) => (hit.kind === "account" ? <AccountButton key={`a:${hit.id}`} hit={hit} onOpen={(h) => void openAccount(h)} /> : <HitButton key={hit.id} hit={hit} onPick={props.onPick} current={hit.id === props.currentId} />))
            )}
          </ul>
        )
      )}
      {props.onCancel && (
        <button type="button" class="c-btn c-btn--basic c-btn--sm" onClick={props.onCancel}>
          {t("common.cancel")}
        </button>
      )}
    </section>
  );
}
