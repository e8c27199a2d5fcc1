import { Problem } from "../../http/problem.js";
import { protectionCommand } from "./impersonationProtect.js";

/** user.impersonation_unprotect — lifts the protection (operations and up: agents may view the account as the customer again). */
export const unprotectFromImpersonation = protectionCommand("user.impersonation_unprotect", false, (id) =>
  Problem.conflict("not_protected", `${id} is not protected from impersonation`, { impersonationProtected: false }),
);
