import type { Response } from "express";

/** Resolves when a streamed response can take more, or has been closed by the client (exports wait on it). */
export function writable(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
