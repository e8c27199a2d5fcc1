import { useEffect, useState } from "preact/hooks";
import { flagRules } from "../../../shared/flags";
import type { ConsoleOverview } from "../../../shared/schemas/console";
import { ActivityChart } from "./ActivityChart";
import type { ConsoleContext } from "./context";
import { consoleLanguage, ct, groupLabel } from "./i18n";

/** The start screen: flag counts (each opens the explorer on that flag) and the 30-day activity charts. */
export function OverviewTab({ ctx }: { ctx: ConsoleContext }) {
  const [data, setData] = useState<ConsoleOverview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    setError(null);
    ctx.api.get<ConsoleOverview>("/api/console/overview").then(setData, (err: Error) => setError(err.message));
  }, [attempt]);
  if (error)
    return (
      <p role="alert">
        {ct("error", { detail: error })} <button class="c-btn c-btn--sm" onClick={() => setAttempt(attempt + 1)}>{ct("retry")}</button>
      </p>
    );
  if (!data) return <p class="muted">{ct("loading")}</p>;
  const lang = consoleLanguage();
  return (
    <div class="overview">
      <section data-testid="flag-counts">
        <h2>{ct("flags.title")}</h2>
        <ul class="flag-list">
          {flagRules.map((rule) => {
            const count = data.flags.find((f) => f.id === rule.id)?.count ?? 0;
            return (
              <li key={rule.id} data-flag={rule.id} data-count={count}>
                <strong class={count > 0 ? "count hot" : "count"}>{count}</strong>
                <span>{rule.explain[lang]}</span>
                {count > 0 && (
                  <button class="c-btn c-btn--sm" onClick={() => ctx.goTo("explorer", { flag: rule.id, from: data.from })}>
                    {ct("flags.show")}
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      </section>
      {ctx.seesAll && <ActivityChart testId="chart-agents" title={ct("chart.by_agent")} days={data.days} series={data.byAgent} />}
      <ActivityChart testId="chart-groups" title={ct("chart.by_group")} days={data.days} series={data.byGroup.map((s) => ({ ...s, label: groupLabel(s.key) }))} />
    </div>
  );
}
