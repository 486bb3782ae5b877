import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Controller, Get } from "@nestjs/common";
import { ExecutionContextHost } from "@nestjs/core/helpers/execution-context-host.js";
import { describe, expect, it } from "vitest";
import { ThrottlekitGuard } from "../../src/adapters/nest/guard.js";
import { resolveOptions } from "../../src/adapters/nest/options.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { decorate } from "./support/decorate.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

class LeakController {
  hello() {
    return "hello";
  }
}
decorate(LeakController, [Controller()], { hello: [Get()] });

/** One real request over a real socket, held open while the guard runs against it. */
async function realRequest(): Promise<{
  req: IncomingMessage;
  res: ServerResponse;
  done(): Promise<void>;
}> {
  let captured: ((pair: [IncomingMessage, ServerResponse]) => void) | undefined;
  const pair = new Promise<[IncomingMessage, ServerResponse]>((r) => {
    captured = r;
  });
  const server = createServer((req, res) => captured!([req, res]));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const response = fetch(`http://127.0.0.1:${port}/`);
  const [req, res] = await pair;
  return {
    req,
    res,
    async done() {
      res.end("ok");
      await (await response).text();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe("throttlekit/nest guard memory", () => {
  it("returns to its baseline heap after 100k guard calls (no timer or state per request)", async () => {
    const clock = manualClock();
    const guard = new ThrottlekitGuard(
      resolveOptions({ throttlers: { default: "1000/s" }, clock: clock.now }),
    );
    const { req, res, done } = await realRequest();
    const handler = LeakController.prototype.hello;
    let allowed = 0;
    let limited = 0;
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        // Half a millisecond per call: the budget runs out and refills, so both the allowed
        // and the 429 path run.
        if (i % 2 === 0) clock.advance(1);
        const context = new ExecutionContextHost([req, res], LeakController, handler);
        try {
          if (guard.canActivate(context) === true) allowed++;
        } catch (error) {
          if ((error as { getStatus?: () => number }).getStatus?.() !== 429) throw error;
          limited++;
        }
      }
    };
    run(5_000);
    const baseline = heapAfterGc();
    run(100_000);
    const after = heapAfterGc();
    await done();
    expect(allowed).toBeGreaterThan(50_000);
    expect(limited).toBeGreaterThan(10_000);
    // @nestjs/throttler keeps a timer and a record per request until its TTL: 100k requests
    // hold megabytes. Here the heap must come back to within 1 MB of the baseline.
    expect(after - baseline).toBeLessThan(1024 * 1024);
  });
});
