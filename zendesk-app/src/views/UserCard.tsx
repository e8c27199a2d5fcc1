import type { RequesterContext } from "../../../shared/schemas/context";
import { date, dateTime } from "../format";
import { t, tOr } from "../i18n";
import { Badge, Card, Facts, Notice } from "./parts";

const statusTone = { active: "green", invited: "blue", suspended: "red", deactivated: "grey", deleted: "grey" } as const;

/** The requester as the product (membership, role) and the identity provider (sign-in state) know them. */
export function UserCard({ context, onChangeUser }: { context: RequesterContext; onChangeUser: () => void }) {
  const user = context.user;
  if (!user) return null;
  const identity = context.identity.status === "ok" ? context.identity.data : null;
  return (
    <Card id="user" title={t("user.title")} source={context.identity.source}>
      <div class="who">
        <strong class="who-name">{user.name}</strong>
        <span class="who-email">{user.email}</span>
      </div>
      <div class="badges" data-testid="user-badges">
        {user.status !== "active" && (
          <Badge tone={statusTone[user.status]} name={`user-${user.status}`}>
            {tOr(`status.${user.status}`, user.status)}
          </Badge>
        )}
        {identity?.locked && (
          <Badge tone="red" name="locked">
            {t("badge.locked")}
          </Badge>
        )}
        {identity?.blocked && (
          <Badge tone="red" name="blocked">
            {t("badge.blocked")}
          </Badge>
        )}
        {user.impersonationProtected && (
          <Badge tone="blue" name="protected">
            {t("badge.protected")}
          </Badge>
        )}
        {identity && (
          <Badge tone={identity.mfaEnrolled ? "green" : "yellow"} name={identity.mfaEnrolled ? "mfa-on" : "mfa-off"}>
            {identity.mfaEnrolled ? t("badge.mfa_on") : t("badge.mfa_off")}
          </Badge>
        )}
      </div>
      <Facts
        rows={[
          [t("user.role"), tOr(`role.${user.role}`, user.role), "role"],
          [t("user.id"), <code>{user.id}</code>, "id"],
          ...(identity
            ? ([
                [t("user.last_login"), dateTime(identity.lastLoginAt), "last-login"],
                [t("user.failed_logins"), identity.locked && identity.lockedUntil ? t("user.failed_locked_until", { count: identity.failedLoginCount, until: dateTime(identity.lockedUntil) }) : String(identity.failedLoginCount), "failed-logins"],
                [t("user.mfa_methods"), identity.mfaMethods.map((m) => tOr(`mfa_method.${m}`, m)).join(", ") || "—", "mfa-methods"],
                [t("user.sessions"), String(identity.activeSessions), "sessions"],
              ] as [string, string, string][])
            : []),
          [t("user.created"), date(user.createdAt), "created"],
        ]}
      />
      {user.asOf !== undefined && (
        // The product did not answer: what is shown is Steward's cache, possibly out of date.
        <Notice tone="warning" testId="user-cached">
          {user.asOf ? t("user.cached_as_of", { asOf: dateTime(user.asOf) }) : t("user.cached_never")}
        </Notice>
      )}
      {context.identity.status === "error" && (
        <Notice tone="warning" testId="identity-error">
          {t("part.failed", { part: t("part.identity"), provider: context.identity.error.provider, message: context.identity.error.message })}
        </Notice>
      )}
      <button type="button" class="c-btn c-btn--basic c-btn--sm link-btn" onClick={onChangeUser}>
        {t("picker.change")}
      </button>
    </Card>
  );
}
