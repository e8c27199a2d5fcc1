import type { RequesterContext } from "../../../shared/schemas/context";
import { date } from "../format";
import { plural, t, tOr } from "../i18n";
import { Badge, Card, Facts, Notice } from "./parts";

const statusTone = { active: "green", trialing: "blue", past_due: "red", suspended: "red", deactivated: "grey", deleted: "grey" } as const;

/** The customer account: status, plan and seats, as the product database holds them. */
export function AccountCard({ context }: { context: RequesterContext }) {
  const part = context.account;
  if (part.status === "error") {
    return (
      <Card id="account" title={t("account.title")} source={part.source}>
        <Notice tone="warning" testId="account-error">
          {t("part.failed", { part: t("part.account"), provider: part.error.provider, message: part.error.message })}
        </Notice>
      </Card>
    );
  }
  const account = part.data;
  const seats = account.temporarySeats > 0 ? t("account.seats_with_temporary", { used: account.seatsUsed, licensed: account.seatsLicensed, temporary: account.temporarySeats }) : t("account.seats_value", { used: account.seatsUsed, licensed: account.seatsLicensed });
  return (
    <Card id="account" title={t("account.title")} source={part.source}>
      <div class="who">
        <strong class="who-name">{account.name}</strong>
        <span class="who-email">{account.domain ?? account.id}</span>
      </div>
      <div class="badges" data-testid="account-badges">
        <Badge tone={statusTone[account.status]} name={`account-${account.status}`}>
          {tOr(`status.${account.status}`, account.status)}
        </Badge>
        {account.overSeatLimit && (
          <Badge tone="yellow" name="over-seats">
            {t("badge.over_seats")}
          </Badge>
        )}
        {account.activeAdminCount === 0 && (
          <Badge tone="yellow" name="no-admin">
            {t("badge.no_admin")}
          </Badge>
        )}
      </div>
      <Facts
        rows={[
          [t("account.id"), <code>{account.id}</code>, "id"],
          [t("account.plan"), tOr(`plan.${account.plan}`, account.plan), "plan"],
          [t("account.seats"), seats, "seats"],
          [t("account.users"), `${plural("account.user_count", account.userCount)}, ${plural("account.admin_count", account.activeAdminCount)}`, "users"],
          ...(account.retentionUntil ? ([[t("account.retention"), date(account.retentionUntil), "retention"]] as [string, string, string][]) : []),
        ]}
      />
    </Card>
  );
}
