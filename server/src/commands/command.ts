import type { Transaction } from "kysely";
import type { z } from "zod";
import type { ActionName } from "../../../shared/actions.js";
import type { ActionEffects, ActionTarget, SupportActionName } from "../../../shared/schemas/actions.js";
import type { Actor } from "../actor.js";
import type { DB } from "../db/schema.js";
import type { MailLanguage } from "../mail/templates.js";
import type { AppDeps } from "../deps.js";
import type { ProviderCallContext } from "../providers/ports.js";
import type { AccountTarget, CommandTarget, UserTarget } from "./targets.js";

/**
 * One support action = one command module: it says what it acts on, which provider (if any) carries
 * the side effect, how to check the transition, and how to change local state. `runCommand` does the
 * rest the same way for all: permission and caps, idempotency, version check, confirmation, audit.
 */
export interface CommandContext {
  deps: AppDeps;
  actor: Actor;
  ticketId: string;
  reason: string;
  requestId: string | null;
  operationId: string;
  now: Date;
  /** The customer's language for the mail the action sends (notices, reset link): the ticket requester's, where translated. */
  customerLanguage?: MailLanguage;
}

export interface Applied {
  /** What changed, as recorded in the audit entry's `after`. */
  after: unknown;
  /** Action-specific result returned to the agent (e.g. "reset email queued"). */
  result?: Record<string, unknown>;
}

/** Actions Steward does itself (the sweeps): commands with no route, run by a system actor. */
export type SystemCommandName = Extract<ActionName, "user.elevation_expire" | "seats.expansion_expire" | "impersonation.expire">;
export type CommandName = SupportActionName | SystemCommandName;

type TargetFor<T extends "user" | "account"> = T extends "user" ? UserTarget : AccountTarget;

export interface SupportCommand<Name extends CommandName = CommandName, T extends "user" | "account" = "user" | "account", I = unknown, P = unknown> {
  action: Name;
  targetType: T;
  input: z.ZodType<I>;
  /**
   * Which provider performs the side effect. With an external adapter (Auth0, Stripe) the runner
   * records a `pending` intent first and calls `perform` outside the transaction; with the built-in
   * adapter `perform` runs inside it, so everything commits or rolls back together.
   */
  provider: CommandProvider;
  /**
   * Permission beyond the role table that depends on the input (a mode only some roles may use, a
   * session that is someone else's, a mode refused for this kind of target): throws a 403 Problem,
   * which the runner audits as `denied`. `target` is as the request names it (not loaded or locked).
   */
  permit?: (actor: Actor, input: I, deps: AppDeps, target: ActionTarget) => void | Promise<void>;
  /**
   * Input checks that need a read (the product's settings declaration): a 400 naming the body field,
   * before any audit and before anything is written, as for the schema's own checks.
   */
  checkInput?: (input: I, deps: AppDeps) => Promise<void>;
  /** The number caps apply to (days, cents, seats…), for actions with a cap. */
  capValue?: (input: I) => number;
  /** State held at the provider (subscription, balance…) that the audit's `before` should show next to the local snapshot. */
  providerState?: (target: TargetFor<T>, input: I, ctx: CommandContext) => Promise<Record<string, unknown>>;
  /**
   * The checks that depend on the target's state alone, not on the input (a deleted account, a user who
   * cannot sign in, no billing customer): throws the same 409s. The runner calls it before `validate`,
   * and `GET /api/actions/available` calls it to show the action as unavailable, so both read one rule.
   */
  precondition?: (target: TargetFor<T>, ctx: CommandContext) => void | Promise<void>;
  /** Throws a Problem (409 invalid_transition, 422…) when this input makes no sense for this target now. */
  validate?: (target: TargetFor<T>, input: I, ctx: CommandContext) => void | Promise<void>;
  /** Destructive actions: the billing-aware effects shown before the agent confirms. */
  preview?: (target: TargetFor<T>, input: I, ctx: CommandContext) => Promise<ActionEffects>;
  /**
   * For actions destructive only in some cases (seats below those in use): whether this request needs
   * the confirmation token. Without it, a destructive action (shared/actions.ts) always does.
   */
  confirmationRequired?: (target: TargetFor<T>, input: I, ctx: CommandContext) => boolean | Promise<boolean>;
  /** The provider side effect (Auth0, Stripe, or built-in tables through `call.executor`). */
  perform?: (target: TargetFor<T>, input: I, ctx: CommandContext, call: ProviderCallContext) => Promise<P>;
  /**
   * For the reconciler: re-reads the provider to tell whether an operation whose answer was lost took
   * effect, without writing anything. `performed` is what `apply` needs; null when it cannot tell.
   * Used when a retry with the provider key cannot settle it, and past the key-retention horizon.
   */
  verify?: (target: TargetFor<T>, input: I, ctx: CommandContext, call: ProviderCallContext) => Promise<Reread<P>>;
  /** Runs while the account has an operation whose outcome is open (resolving that operation is the point, or ending access). */
  runsWhileUnresolved?: boolean;
  /**
   * Only takes access away (ending an impersonation): removing access must always be possible, so the
   * ticket check is run and recorded (snapshot, and `before.ticketCheck`) but a closed or mismatching
   * ticket, or Zendesk not answering, does not refuse it; nor does a target version changed since the agent loaded it.
   */
  endsAccess?: boolean;
  /**
   * A sweep's revert whose open grant row is itself the lasting intent: a refusal, a lost answer or a
   * crash leaves the grant due, and the next sweep repeats the write under the same key (the product
   * answers a repeat with its first answer). So an external write needs no pending bracket: the revert
   * is one entry, as with the built-in providers (an answer that never came is one `unknown` entry).
   */
  intentIsTheGrant?: boolean;
  /** Local state change inside the transaction (the runner bumps the version and writes the audit entry). */
  apply: (trx: Transaction<DB>, target: TargetFor<T>, input: I, ctx: CommandContext, performed: P) => Promise<Applied>;
}

/** What a re-read of the provider shows: the change took effect (with what `apply` needs), it did not, or it cannot tell. */
export type Reread<P> = { applied: true; performed: P } | { applied: false } | null;

export type AnyCommand = SupportCommand<CommandName, "user" | "account", never, never>;

export function defineCommand<Name extends CommandName, T extends "user" | "account", I, P = void>(command: SupportCommand<Name, T, I, P>): SupportCommand<Name, T, I, P> {
  return command;
}

/**
 * One port, or several when an action changes more than one (e.g. deactivating an account blocks users
 * and ends billing). `directory`: the accounts and users the product owns (status, role, seats, flags).
 */
export type Port = "identity" | "billing" | "directory";
export type CommandProvider = Port | "none" | readonly Port[];

/** External when any port the command uses is (then none of its provider calls run inside our transaction). */
export function isExternal(command: { provider: CommandProvider }, deps: AppDeps): boolean {
  const ports = typeof command.provider === "string" ? [command.provider] : command.provider;
  return ports.some((port) => port !== "none" && deps[port].name !== "builtin");
}

export type { CommandTarget };
