import { actionInputs } from "../../../../shared/schemas/actions.js";
import { mirrorWritten } from "../../directory/readThrough.js";
import { Problem } from "../../http/problem.js";
import { defineCommand } from "../command.js";
import { writeUser } from "../directoryWrite.js";
import { userAfter } from "../identityRef.js";

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
    perform: (target, _input, ctx, call) => writeUser(target, { protected: flag }, ctx, call),
    apply: async (trx, target, _input, ctx, written) => {
      await trx.updateTable("users").set({ impersonation_protected: flag }).where("id", "=", target.id).execute();
      await mirrorWritten(trx, ctx.deps, { user: written }, ctx.now);
      return { after: { ...(await userAfter(trx, target.id)), impersonationProtected: written.protected } };
    },
  });
}

/** user.impersonation_protect — the customer asked that no one signs in as them: impersonation.start refuses them (target_protected). */
export const protectFromImpersonation = protectionCommand("user.impersonation_protect", true, (id) =>
  Problem.conflict("already_protected", `${id} is already protected from impersonation`, { impersonationProtected: true }),
);

