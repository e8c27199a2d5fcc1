import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { Socket } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createAuth0Client } from "../../src/providers/auth0/auth0Client.js";
import { nodeHttpFetch } from "../../src/providers/auth0/nodeHttpFetch.js";
import { Auth0Fake } from "../fakes/auth0Fake.js";

const fake = new Auth0Fake();
const port = () => Number(new URL(fake.url).port);

/** Client sockets this process opens to the fake, in order (node:net announces each one it creates). */
let sockets: Socket[] = [];
const onSocket = (message: unknown) => {
  const socket = (message as { socket: Socket }).socket;
  socket.once("connect", () => {
    if (socket.remotePort === port()) sockets.push(socket);
  });
};

beforeAll(async () => {
  await fake.start();
  subscribe("net.client.socket", onSocket);
});
afterAll(async () => {
  unsubscribe("net.client.socket", onSocket);
  await fake.close();
});
beforeEach(() => {
  sockets = [];
  fake.clearFaults();
  fake.addUser({ user_id: "auth0|reuse", email: "rita.reuse@acme.example", sessions: 1 });
});
afterEach(() => fake.idle());

function client(transport = nodeHttpFetch()) {
  return createAuth0Client({ domain: fake.domain, clientId: fake.clientId, clientSecret: fake.clientSecret, baseUrl: fake.url, timeoutMs: 2_000 }, transport);
}

describe("Auth0 transport (node:http with keep-alive, through the auth0 SDK against the Auth0 fake)", () => {
  it("sends the token request and two reads over one connection", async () => {
    const auth0 = client();
    expect((await auth0.users.get("auth0|reuse")).email).toBe("rita.reuse@acme.example");
    expect((await auth0.users.get("auth0|reuse")).user_id).toBe("auth0|reuse");
    const paths = fake.requests.slice(-3).map((r) => `${r.method} ${decodeURIComponent(r.path)}`);
    expect(paths).toEqual(["POST /oauth/token", "GET /api/v2/users/auth0|reuse", "GET /api/v2/users/auth0|reuse"]);
    expect(sockets).toHaveLength(1);
  });

  it("rejects with the signal's reason when aborted, and closes that connection instead of reusing it", async () => {
    const auth0 = client();
    await auth0.users.get("auth0|reuse"); // token and a kept-alive connection
    fake.delayNext(5_000, 1, { path: /^\/api\/v2\/users\// });
    const controller = new AbortController();
    const reason = new Error("the caller gave up");
    setTimeout(() => controller.abort(reason), 50);
    const started = Date.now();
    const err = await auth0.users.get("auth0|reuse", {}, { abortSignal: controller.signal }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    // The SDK wraps what fetch rejected with; the reason is what it got.
    expect((err as { cause?: unknown }).cause).toBe(reason);
    expect(sockets).toHaveLength(1);
    expect(sockets[0]?.destroyed).toBe(true);
    // The next call opens a new connection and is answered.
    expect((await auth0.users.get("auth0|reuse")).email).toBe("rita.reuse@acme.example");
    expect(sockets).toHaveLength(2);
  });

  it("answers as global fetch does: status, headers, body; a refusal becomes the SDK's error", async () => {
    const url = `${fake.url}/api/v2/users/auth0%7Creuse`;
    const [ours, theirs] = await Promise.all([nodeHttpFetch()(url), fetch(url)]);
    expect(ours.status).toBeGreaterThanOrEqual(400); // no token
    expect([ours.status, ours.ok, ours.headers.get("content-type"), await ours.text()]).toEqual([theirs.status, theirs.ok, theirs.headers.get("content-type"), await theirs.text()]);
    await expect(client().users.get("auth0|nobody")).rejects.toMatchObject({ statusCode: 404 });
  });
});
