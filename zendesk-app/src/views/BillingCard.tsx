import type { RequesterContext } from "../../../shared/schemas/context";
import { date, money } from "../format";
import { t, tOr } from "../i18n";
import { Badge, Card, Facts, Notice } from "./parts";

const statusTone = { trialing: "blue", active: "green", past_due: "red", unpaid: "red", canceled: "grey", incomplete: "yellow" } as const;

/** The subscription as the billing provider knows it, with dunning when a payment failed. */
export function BillingCard({ context }: { context: RequesterContext }) {
  const part = context.billing;
  if (part.status === "error") {
    return (
      <Card id="billing" title={t("billing.title")} source={part.source}>
        <Notice tone="warning" testId="billing-error">
          {t("part.failed", { part: t("part.billing"), provider: part.error.provider, message: part.error.message })}
        </Notice>
      </Card>
    );
  }
  const billing = part.data;
  if (!billing) {
    return (
      <Card id="billing" title={t("billing.title")} source={part.source}>
        <p class="muted">{t("billing.none")}</p>
      </Card>
    );
  }
  const c = billing.currency;
  return (
    <Card id="billing" title={t("billing.title")} source={part.source}>
      <div class="badges" data-testid="billing-badges">
        {billing.status && (
          <Badge tone={statusTone[billing.status]} name={`billing-${billing.status}`}>
            {tOr(`status.${billing.status}`, billing.status)}
          </Badge>
        )}
        {billing.cancelAtPeriodEnd && (
          <Badge tone="yellow" name="cancels">
            {t("badge.cancels", { date: date(billing.cancelAt ?? billing.currentPeriodEnd) })}
          </Badge>
        )}
      </div>
      <Facts
        rows={[
          [t("billing.plan"), billing.plan ? `${tOr(`plan.${billing.plan}`, billing.plan)}${billing.interval ? ` · ${tOr(`interval.${billing.interval}`, billing.interval)}` : ""}` : "—", "plan"],
          // Nothing billed yet is said in words, not as "$0.00".
          [t("billing.mrr"), billing.mrrCents !== 0 ? money(billing.mrrCents, c) : billing.status === "trialing" ? t("billing.mrr_trial") : "—", "mrr"],
          [t("billing.next_invoice"), billing.nextInvoice ? t("billing.next_invoice_value", { amount: money(billing.nextInvoice.amountCents, c), date: date(billing.nextInvoice.date) }) : "—", "next-invoice"],
          ...(billing.trialEnd ? ([[t("billing.trial_end"), date(billing.trialEnd), "trial-end"]] as [string, string, string][]) : []),
          // A negative balance is money the customer has to spend (a credit), not a debt: said as such.
          ...(billing.balanceCents < 0 ? ([[t("billing.credit"), money(-billing.balanceCents, c), "credit"]] as [string, string, string][]) : []),
          ...(billing.balanceCents > 0 ? ([[t("billing.balance"), money(billing.balanceCents, c), "balance"]] as [string, string, string][]) : []),
          ...(billing.seats !== null ? ([[t("billing.seats"), String(billing.seats), "billed-seats"]] as [string, string, string][]) : []),
        ]}
      />
      {billing.dunning && (
        <Notice tone="warning" testId="dunning">
          <strong>{t("billing.dunning")}</strong>{" "}
          {t("billing.dunning_value", {
            attempts: billing.dunning.failedAttempts,
            amount: money(billing.dunning.amountDueCents, c),
            next: billing.dunning.nextRetryAt ? date(billing.dunning.nextRetryAt) : t("billing.no_retry"),
          })}
        </Notice>
      )}
    </Card>
  );
}
