import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { z } from "zod";
import {
  AccountWithUsers,
  DIRECTORY_BASE_PATH,
  DirectoryAccount,
  DirectoryProblem,
  DirectorySearchResponse,
  DirectoryUser,
  SettingsDeclaration,
  UserLookupResponse,
  type AccountWrite,
  type UserWrite,
} from "../../../shared/directory/contract.js";
import type { Clock } from "../clock.js";
import type { GrantKeys } from "../impersonation/signingKeys.js";
import { parseRetryAfter, type ProviderCaller } from "../providers/providerCall.js";
import { ProviderError, type ProviderErrorCode } from "../providers/providerError.js";
import { textFaults } from "../http/textGuard.js";
import { noteAsked } from "./askedAt.js";
import { signDirectoryToken, type DirectoryTokenBody } from "./directoryToken.js";
import type { DirectoryCall, DirectoryPort, DirectoryReader, UserLookup } from "./port.js";

/**
 * DIRECTORY_PROVIDER=http: the product's own API, per the contract. Calls go through the same
 * ProviderCaller as Auth0 and Stripe (timeout per attempt, bounded retries, one error type). Writes
 * are retried too: they carry one idempotency key on every attempt, which the contract makes the
 * product apply once. An answer that does not match the contract is `misconfigured`, never trusted.
 */
export interface HttpDirectoryOptions {
  baseUrl: string;
  audience: string;
  issuer: string;
  keys: GrantKeys;
  clock: Clock;
  caller: ProviderCaller;
  /** The largest answer read (bytes); a longer one is cut off and refused as misconfigured. */
  maxAnswerBytes?: number;
}

/** Far more than any contract answer (an account of 10 000 users is about 5 MiB), far less than what would exhaust the process. */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/** The product's answer ran past the limit: reading it was stopped. */
class AnswerTooLarge extends Error {
  constructor(
    readonly status: number,
    readonly limit: number,
  ) {
    super(`the answer is larger than ${limit} bytes`);
  }
}

function codeForStatus(status: number, body: DirectoryProblem | null): ProviderErrorCode {
  if (status === 404) return "not_found";
  if (status === 409 && body?.code === "stale_version") return "stale";
  if (status === 429) return "rate_limited";
  if (status === 401 || status === 403) return "misconfigured";
  if (status >= 500) return "unavailable";
  return "rejected";
}

/** What fetch throws (network, abort) as the one provider error. */
export function classifyDirectoryError(err: unknown, operation: string): ProviderError {
  if (err instanceof ProviderError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ProviderError({ provider: "product", code: "unavailable", operation, message: `${operation}: the product could not be reached (${message})`, cause: err });
}

interface Answer {
  status: number;
  retryAfter: string | undefined;
  text: string;
}

/**
 * One request over node:http(s) with kept-alive connections: a context read makes three calls, and
 * fetch cost several times more CPU per call than the request itself on both ends of loopback.
 */
function send(url: URL, init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal; agent: HttpAgent; maxBytes: number }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = { method: init.method, headers: init.body === undefined ? init.headers : { ...init.headers, "content-length": String(Buffer.byteLength(init.body)) }, signal: init.signal, agent: init.agent };
    const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, options, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      // Buffered whole before parsing: a runaway answer is stopped at the limit, not read into memory.
      const tooLarge = () => {
        reject(new AnswerTooLarge(res.statusCode ?? 0, init.maxBytes));
        res.destroy();
      };
      if (Number(res.headers["content-length"]) > init.maxBytes) return tooLarge();
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > init.maxBytes) return tooLarge();
        chunks.push(chunk);
      });
      res.on("end", () => {
        const retryAfter = res.headers["retry-after"];
        resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, text: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

export class HttpDirectory implements DirectoryPort {
  readonly name = "http" as const;
  private readonly agent: HttpAgent;

  constructor(private readonly options: HttpDirectoryOptions) {
    // An idle connection is dropped after 4 s, or sooner when the product's Keep-Alive header says it
    // closes them sooner (Node only heeds that hint when a timeout is set): a request is then not
    // sent on a connection the product is closing.
    const agentOptions = { keepAlive: true, timeout: 4_000 };
    this.agent = options.baseUrl.startsWith("https:") ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  }

  lookupUsers(query: UserLookup, reader?: DirectoryReader) {
    const params = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => typeof e[1] === "string"));
    return this.request("directory.lookup", "GET", `/users?${params}`, UserLookupResponse, { reader });
  }

  search(q: string, limit: number, reader?: DirectoryReader) {
    return this.request("directory.search", "GET", `/search?${new URLSearchParams({ q, limit: String(limit) })}`, DirectorySearchResponse, { reader });
  }

  getUser(id: string, reader?: DirectoryReader) {
    return this.request("directory.user", "GET", `/users/${encodeURIComponent(id)}`, DirectoryUser, { reader });
  }

  getAccount(id: string, reader?: DirectoryReader) {
    return this.request("directory.account", "GET", `/accounts/${encodeURIComponent(id)}`, AccountWithUsers, { reader });
  }

  updateAccount(id: string, write: AccountWrite, call: DirectoryCall) {
    return this.request("directory.account_update", "PATCH", `/accounts/${encodeURIComponent(id)}`, DirectoryAccount, { write: { body: write, call } });
  }

  updateUser(id: string, write: UserWrite, call: DirectoryCall) {
    return this.request("directory.user_update", "PATCH", `/users/${encodeURIComponent(id)}`, DirectoryUser, { write: { body: write, call } });
  }

  settings() {
    return this.request("directory.settings", "GET", "/settings", SettingsDeclaration);
  }

  private async request<T extends z.ZodType>(
    operation: string,
    method: "GET" | "PATCH",
    path: string,
    schema: T,
    by: { write?: { body: unknown; call: DirectoryCall }; reader?: DirectoryReader | undefined } = {},
  ): Promise<z.infer<T>> {
    const { baseUrl, audience, issuer, keys, clock, caller } = this.options;
    const url = new URL(`${baseUrl.replace(/\/$/, "")}${DIRECTORY_BASE_PATH}${path}`);
    // An id "." or ".." (even percent-encoded) is read by URL parsing as a step up the path: the request
    // would name another resource, whose answer would stand for the object's. No object is reachable so.
    if (/\/(?:\.|%2e){1,2}(?=[/?]|$)/i.test(path)) {
      throw new ProviderError({ provider: "product", code: "not_found", operation, message: `${operation}: an id of only dots cannot be asked for in a URL path (${path})` });
    }
    const { write, reader } = by;
    const tokenBody: DirectoryTokenBody = write
      ? { actor: write.call.actor, ticketId: write.call.ticketId, idempotencyKey: write.call.idempotencyKey }
      : { actor: reader?.actor ?? null, ticketId: reader?.ticketId ?? null };
    // A write's answer may be an earlier attempt's under the same key, replayed (the contract gives no sign of it),
    // so it is dated by the key's first use: it stands for no newer state than that (askedAt.ts orders by it).
    let firstSentAt: Date | undefined;
    return caller.call(
      operation,
      async ({ signal }) => {
        const sentAt = clock.now();
        firstSentAt ??= write?.call.keyOpenedAt && write.call.keyOpenedAt < sentAt ? write.call.keyOpenedAt : sentAt;
        const token = await signDirectoryToken(keys, tokenBody, { issuer, audience }, sentAt);
        const res = await send(url, {
          method,
          signal,
          agent: this.agent,
          maxBytes: this.options.maxAnswerBytes ?? MAX_ANSWER_BYTES,
          headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(write ? { "content-type": "application/json" } : {}) },
          ...(write ? { body: JSON.stringify(write.body) } : {}),
        }).catch((err: unknown) => {
          if (!(err instanceof AnswerTooLarge)) throw err;
          const applied = err.status >= 200 && err.status <= 299;
          // As for an answer off the contract: a write answered 2xx did happen, and its outcome is for the reconciler.
          throw new ProviderError({ provider: "product", code: "misconfigured", status: err.status, operation, partlyApplied: Boolean(write) && applied, message: `${operation}: ${err.message} (HTTP ${err.status})` });
        });
        const text = res.text;
        let json: unknown = null;
        try {
          json = text ? JSON.parse(text) : null;
        } catch {
          json = null;
        }
        if (res.status < 200 || res.status > 299) {
          const problem = DirectoryProblem.safeParse(json);
          const body = problem.success ? problem.data : null;
          const code = codeForStatus(res.status, body);
          throw new ProviderError({
            provider: "product",
            code,
            status: res.status,
            operation,
            message: `${operation}: ${body ? `${body.code}: ${body.detail ?? body.title}` : `HTTP ${res.status} without a problem+json body`}`,
            retryAfterMs: code === "rate_limited" ? parseRetryAfter(res.retryAfter) : undefined,
          });
        }
        const parsed = schema.safeParse(json);
        if (!parsed.success) {
          const where = parsed.error.issues[0];
          // A write answered 2xx did happen, whatever the body says: its outcome is for the reconciler.
          throw new ProviderError({ provider: "product", code: "misconfigured", status: res.status, operation, partlyApplied: Boolean(write), message: `${operation}: the answer does not match the directory contract (${where ? `${where.path.join(".") || "body"}: ${where.message}` : "invalid"})` });
        }
        // Text Steward cannot store as sent (NUL, unpaired surrogates) would fail in the cache or be changed by it: off the contract too.
        const [fault] = textFaults(parsed.data, ["body"]);
        if (fault) {
          throw new ProviderError({ provider: "product", code: "misconfigured", status: res.status, operation, partlyApplied: Boolean(write), message: `${operation}: the answer does not match the directory contract (${fault.field}: ${fault.reason})` });
        }
        noteAsked(parsed.data as object, write ? firstSentAt : sentAt);
        return parsed.data as z.infer<T>;
      },
      { write: Boolean(write) },
    );
  }
}
