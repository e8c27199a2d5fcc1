import type { SupportActionName } from "../../../shared/schemas/actions.js";
import type { AnyCommand } from "./command.js";
import { applyCredit } from "./billing/creditApply.js";
import { changePlan } from "./billing/planChange.js";
import { cancelSubscription } from "./billing/subscriptionCancel.js";
import { extendTrial } from "./billing/trialExtend.js";
import { changeSeats } from "./seats/change.js";
import { expandSeatsTemporarily } from "./seats/expandTemporarily.js";
import { reclaimSeats } from "./seats/reclaim.js";
import { endSeatExpansion } from "./seats/expansionEnd.js";
import { resolveOperation } from "./operation/resolve.js";
import { elevateTemporarily } from "./user/elevateTemporarily.js";
import { endElevation } from "./user/elevationEnd.js";
import { activateAccount } from "./account/activate.js";
import { deactivateAccount } from "./account/deactivate.js";
import { deleteAccount } from "./account/delete.js";
import { suspendAccount } from "./account/suspend.js";
import { unsuspendAccount } from "./account/unsuspend.js";
import { activateUser } from "./user/activate.js";
import { blockUser } from "./user/block.js";
import { deactivateUser } from "./user/deactivate.js";
import { deleteUser } from "./user/delete.js";
import { lockoutClear } from "./user/lockoutClear.js";
import { mfaReset } from "./user/mfaReset.js";
import { passwordReset } from "./user/passwordReset.js";
import { sessionsRevoke } from "./user/sessionsRevoke.js";
import { suspendUser } from "./user/suspend.js";
import { unblockUser } from "./user/unblock.js";
import { promoteAdmin } from "./user/promoteAdmin.js";
import { changeRole } from "./user/roleChange.js";
import { changeSettings } from "./user/settingsChange.js";
import { protectFromImpersonation } from "./user/impersonationProtect.js";
import { unprotectFromImpersonation } from "./user/impersonationUnprotect.js";
import { startImpersonation } from "./impersonation/start.js";
import { stopImpersonation } from "./impersonation/stop.js";

/** Every support command, by action name. A command is reachable only by being listed here. */
const all = [
  // Auth help, user and account status
  passwordReset,
  lockoutClear,
  mfaReset,
  sessionsRevoke,
  blockUser,
  unblockUser,
  activateUser,
  suspendUser,
  deactivateUser,
  deleteUser,
  suspendAccount,
  unsuspendAccount,
  deactivateAccount,
  activateAccount,
  deleteAccount,
  // Product roles, seats and billing
  changeRole,
  promoteAdmin,
  elevateTemporarily,
  changeSettings,
  protectFromImpersonation,
  unprotectFromImpersonation,
  endElevation,
  changeSeats,
  expandSeatsTemporarily,
  endSeatExpansion,
  reclaimSeats,
  extendTrial,
  applyCredit,
  changePlan,
  cancelSubscription,
  // Impersonation
  startImpersonation,
  stopImpersonation,
  // Operations the reconciler could not settle
  resolveOperation,
] as unknown as AnyCommand[];

export const commands: ReadonlyMap<SupportActionName, AnyCommand> = new Map(all.map((c) => [c.action as SupportActionName, c]));
