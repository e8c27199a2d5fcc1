import type { ActivitySeries } from "../../../shared/schemas/console";
import { ct } from "./i18n";

/** One row per series: its label, total and a plain SVG bar per day (no chart library). */
export function ActivityChart(props: { title: string; days: string[]; series: ActivitySeries[]; testId: string; max?: number }) {
  const rows = props.series.slice(0, props.max ?? 8);
  const peak = Math.max(1, ...rows.flatMap((s) => s.counts));
  const width = props.days.length * 6;
  return (
    <section class="chart" data-testid={props.testId} aria-label={props.title}>
      <h2>{props.title}</h2>
      {rows.length === 0 && <p class="muted">{ct("chart.empty")}</p>}
      {rows.map((s) => {
        const total = s.counts.reduce((a, b) => a + b, 0);
        return (
          <div class="chart-row" key={s.key} data-series={s.key}>
            <span class="chart-label" title={s.label}>
              {s.label}
            </span>
            <svg width={width} height={24} viewBox={`0 0 ${width} 24`} role="img" aria-label={`${s.label}: ${total}`}>
              {s.counts.map((n, i) => {
                const h = n === 0 ? 0 : Math.max(2, Math.round((n / peak) * 22));
                return (
                  <rect key={props.days[i]} x={i * 6} y={24 - h} width={5} height={h} fill="#1f73b7" data-day={props.days[i]} data-count={n}>
                    <title>{`${props.days[i]}: ${n}`}</title>
                  </rect>
                );
              })}
            </svg>
            <span class="chart-total">{total}</span>
          </div>
        );
      })}
    </section>
  );
}
