import { settingsErrors } from "../../../../shared/directory/settings.js";
import { actionInputs } from "../../../../shared/schemas/actions.js";
import { mirrorWritten, recordUserWrite } from "../../directory/readThrough.js";
import { Problem } from "../../http/problem.js";
import { defineCommand } from "../command.js";
import { writeUser } from "../directoryWrite.js";
import { userAfter } from "../identityRef.js";
import { invalidTransition } from "./userTransitions.js";

/**
 * user.settings_change — changes the user settings the product lets support change (language,
 * digest mail…). Which settings exist and their types is the product's declaration, so a setting
 * it does not declare, or a value of the wrong type, is refused 400 naming the field, before any
 * write; the product checks the same declaration again when it applies the write.
 */
export const changeSettings = defineCommand({
  action: "user.settings_change",
  targetType: "user",
  input: actionInputs["user.settings_change"],
  provider: "directory",
  checkInput: async (input, deps) => {
    const errors = settingsErrors((await deps.directory.settings()).settings, input.settings);
    if (errors.length > 0) throw Problem.badRequest("Settings the product does not let support change, or values of the wrong type", errors);
  },
  providerState: (target) => Promise.resolve({ settings: target.user.directory_settings }),
  precondition: (target) => {
    if (target.user.status === "deleted") throw invalidTransition(`${target.user.id} is deleted`, { status: target.user.status });
  },
  validate: (target, input) => {
    const current = target.user.directory_settings;
    if (Object.entries(input.settings).every(([key, value]) => current[key] === value)) {
      throw Problem.conflict("invalid_transition", `${target.user.email} already has these settings`, { settings: input.settings });
    }
  },
  perform: (target, input, ctx, call) => writeUser(target, { settings: input.settings }, ctx, call),
  apply: async (trx, target, input, ctx, written) => {
    // The directory's answer is the whole settings object after the write (the product's, or the built-in one's).
    await recordUserWrite(trx, ctx.deps, target.id, { directory_settings: JSON.stringify(written.settings) as never }, { answer: written, now: ctx.now });
    await mirrorWritten(trx, ctx.deps, { user: written }, ctx.now);
    const changed = Object.keys(input.settings).sort().join(", ");
    await trx.insertInto("activity_events").values({ account_id: target.accountId, user_id: target.id, type: "settings_changed", detail: `${changed} changed by support (ticket ${ctx.ticketId})`, ip: null, occurred_at: ctx.now }).execute();
    return { after: { ...(await userAfter(trx, target.id, written)), settings: written.settings } };
  },
});
