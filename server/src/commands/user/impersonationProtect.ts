import { actionInputs } from "../../../../shared/schemas/actions.js";
import { mirrorWritten, recordUserWrite } from "../../directory/readThrough.js";
import { Problem } from "../../http/problem.js";
import { defineCommand } from "../command.js";
import { writeUser } from "../directoryWrite.js";
import { userAfter } from "../identityRef.js";
import { actionEffects, said, type Said } from "../billingEffects.js";
import { isNoticeMandatory } from "../../mail/notices.js";
import type { CommandContext } from "../command.js";
import type { UserTarget } from "../targets.js";

type Action = "user.impersonation_protect" | "user.impersonation_unprotect";

/**
 * The product's "never impersonate this user" flag, set or cleared through the directory (the
 * product's own with DIRECTORY_PROVIDER=http), so impersonation.start, which reads the flag fresh
 * from the directory, refuses or allows the user from then on. Both actions share this shape; only
 * the flag they write, the refusal when it is already so, and (shared/actions.ts) the role differ.
 */
export function protectionCommand<A extends Action>(action: A, flag: boolean, already: (userId: string) => Problem) {
  return defineCommand({
    action,
    targetType: "user",
    input: actionInputs[action],
    provider: "directory",
    // The flag as the directory has it (refreshed from the product before the target was loaded), for the audit's `before`.
    providerState: (target) => Promise.resolve({ impersonationProtected: target.user.impersonation_protected }),
    precondition: (target) => {
      if (target.user.impersonation_protected === flag) throw already(target.id);
    },
    preview: (target, _input, ctx) => protectionPreview(action, flag, target, ctx),
    perform: (target, _input, ctx, call) => writeUser(target, { protected: flag }, ctx, call),
    apply: async (trx, target, _input, ctx, written) => {
      await recordUserWrite(trx, ctx.deps, target.id, { impersonation_protected: flag }, { answer: written, now: ctx.now });
      await mirrorWritten(trx, ctx.deps, { user: written }, ctx.now);
      return { after: { ...(await userAfter(trx, target.id, written)), impersonationProtected: written.protected } };
    },
  });
}

/**
 * What protecting or lifting protection changes: who may view the product as the customer. Protecting also ends the
 * user's live impersonation sessions at the next sweep, so the agents running them are named; lifting it always
 * emails the customer a security notice.
 */
async function protectionPreview(action: Action, flag: boolean, target: UserTarget, ctx: CommandContext) {
  const { name, email } = target.user;
  if (!flag) {
    const warnings: Said[] = isNoticeMandatory(action) ? [said("security_notice_mandatory", { email }, `A security notice is emailed to ${email}; it cannot be turned off`)] : [];
    return actionEffects(null, {
      summary: said("user_impersonation_unprotect", { name, email }, `Agents may view the product as ${name} <${email}> again (time-limited, every action logged)`),
      billingAfter: "unchanged",
      warnings,
    });
  }
  const live = await ctx.deps.database.db
    .selectFrom("impersonation_sessions")
    .select(["agent_name", "agent_email"])
    .where("user_id", "=", target.id)
    .where("ended_at", "is", null)
    .where("absolute_deadline", ">", ctx.now)
    .execute();
  const agents = live.map((s) => s.agent_name ?? s.agent_email ?? "").join(", ");
  // The impersonation loop ends them (target_changed) on its next pass.
  const seconds = Math.ceil(ctx.deps.config.IMPERSONATION_SWEEP_MS / 1000);
  return actionEffects(null, {
    summary: said("user_impersonation_protect", { name, email }, `No agent can view the product as ${name} <${email}> from now on`),
    billingAfter: "unchanged",
    warnings: live.length ? [said("impersonation_sessions_end", { count: live.length, agents, seconds }, `${live.length} live impersonation session(s) end within ${seconds} s: ${agents}`)] : [],
  });
}

/** user.impersonation_protect — the customer asked that no one signs in as them: impersonation.start refuses them (target_protected). */
export const protectFromImpersonation = protectionCommand("user.impersonation_protect", true, (id) =>
  Problem.conflict("already_protected", `${id} is already protected from impersonation`, { impersonationProtected: true }),
);

