import { Agent, request } from "node:http";

export interface Answer {
  sentAt: number;
  doneAt: number;
  /** HTTP status, or 0 when the connection failed (refused, reset). */
  status: number;
  code?: string;
  retryAfter?: string;
  error?: string;
}

function get(url: string, agent: Agent, headers: Record<string, string>): Promise<{ status: number; body: string; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers, timeout: 30_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, retryAfter: res.headers["retry-after"] }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("client timeout")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Closed-loop load: `concurrency` keep-alive clients each send `path` again as soon as the previous
 * answer arrives, until `until()` says stop. Every answer is kept, with when it was sent.
 */
export async function runLoad(options: { url: string; path: string; token?: string; concurrency: number; until: () => boolean; pauseMs?: number }): Promise<Answer[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const answers: Answer[] = [];
  const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  const client = async () => {
    while (!options.until()) {
      const sentAt = Date.now();
      try {
        const res = await get(`${options.url}${options.path}`, agent, headers);
        let code: string | undefined;
        if (res.status >= 400) code = (JSON.parse(res.body || "{}") as { code?: string }).code;
        answers.push({ sentAt, doneAt: Date.now(), status: res.status, code, ...(res.retryAfter ? { retryAfter: res.retryAfter } : {}) });
      } catch (err) {
        answers.push({ sentAt, doneAt: Date.now(), status: 0, error: (err as { code?: string }).code ?? (err as Error).message });
        await new Promise((r) => setTimeout(r, 20));
      }
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, client));
  agent.destroy();
  return answers;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
