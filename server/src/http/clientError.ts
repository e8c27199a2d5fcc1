import type { Server } from "node:http";
import type { Socket } from "node:net";
import { problemType } from "./problem.js";

/**
 * Requests Node refuses before Express sees them (a request line or headers over its 16 KiB limit, a
 * malformed request) get problem+json like every other refusal, not Node's bare status line.
 */
export function answerClientErrors(server: Server): void {
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
    const status = tooLarge ? 431 : 400;
    const body = JSON.stringify({
      type: problemType(tooLarge ? "headers_too_large" : "malformed_request"),
      title: tooLarge ? "Request header fields too large" : "Bad request",
      status,
      code: tooLarge ? "headers_too_large" : "malformed_request",
      detail: tooLarge ? "The request line or headers are over 16 KiB; send long values in the body" : "The request is not valid HTTP",
    });
    socket.end(
      `HTTP/1.1 ${status} ${tooLarge ? "Request Header Fields Too Large" : "Bad Request"}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
