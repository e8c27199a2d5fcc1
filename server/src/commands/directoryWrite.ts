import type { AccountChanges, DirectoryAccount, DirectoryUser, UserChanges } from "../../../shared/directory/contract.js";
import type { ProviderCallContext } from "../providers/ports.js";
import type { CommandContext } from "./command.js";
import { runCompensated, type ProviderStep } from "./compensation.js";
import type { AccountTarget, UserTarget } from "./targets.js";

/**
 * A command's write to what the product owns, from its `perform`: sent with the version the command
 * was decided on (the product's own, with DIRECTORY_PROVIDER=http), so the product refuses it if the
 * object changed since; the acting agent and ticket travel with it. The answer is what `apply`
 * mirrors (readThrough.ts mirrorWritten).
 */
function expectedVersion(ctx: CommandContext, row: { version: number; directory_version: number | null }): number {
  return ctx.deps.directory.name === "builtin" ? row.version : (row.directory_version ?? row.version);
}

/** One key per object written: a command may write more than one, and each is applied once however often it is retried. */
function callFor(ctx: CommandContext, call: ProviderCallContext, object: string) {
  return { ...call, idempotencyKey: `${call.idempotencyKey}:${object}`, actor: ctx.actor, ticketId: ctx.ticketId };
}

export function writeUser(target: Pick<UserTarget, "id" | "user">, changes: UserChanges, ctx: CommandContext, call: ProviderCallContext): Promise<DirectoryUser> {
  return ctx.deps.directory.updateUser(target.id, { expectedVersion: expectedVersion(ctx, target.user), changes }, callFor(ctx, call, `user:${target.id}`));
}

export function writeAccount(target: Pick<AccountTarget, "id" | "account">, changes: AccountChanges, ctx: CommandContext, call: ProviderCallContext): Promise<DirectoryAccount> {
  return ctx.deps.directory.updateAccount(target.id, { expectedVersion: expectedVersion(ctx, target.account), changes }, callFor(ctx, call, `account:${target.id}`));
}

/**
 * The product's write as a provider step, only where there is one: with the built-in directory the
 * write is the command's own `apply` (same transaction), so the step list is what it always was.
 * Keyed and never undone, so it goes after the steps that can be undone.
 */
export function directoryStep(ctx: CommandContext, label: string, run: () => Promise<unknown>): ProviderStep[] {
  return ctx.deps.directory.name === "builtin" ? [] : [{ label, run }];
}

/** One step runs as it always did (its error as thrown); several run compensated (compensation.ts). */
export async function runSteps(steps: ProviderStep[], ctx: CommandContext, call: ProviderCallContext): Promise<void> {
  if (steps.length === 1) await steps[0]!.run();
  else if (steps.length > 1) await runCompensated(steps, { logger: ctx.deps.logger, transactional: Boolean(call.executor) });
}
