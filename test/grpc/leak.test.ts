/**
 * 10,000 call cycles (unary, client streams, bidi streams, streams cancelled mid-way, and a new
 * channel every 500 cycles) leave no growth behind: no slot held, no per-call message counter
 * left in the store, the store's key count back to its level after warm-up, and the heap after
 * GC within a small margin of its level after warm-up.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { ClientDuplexStream, ClientWritableStream } from "@grpc/grpc-js";
import { afterAll, expect, it } from "vitest";
import { grpcRateLimit } from "../../src/adapters/grpc.js";
import { type MemoryStore, memoryStore } from "../../src/index.js";
import { type GreeterClient, type Harness, meta, startGrpc, unary } from "./harness.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let h: Harness | undefined;
afterAll(async () => {
  await h?.close();
});

async function settle(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 20));
    gc();
  }
  return process.memoryUsage().heapUsed;
}

it("10,000 call cycles leave no growth in limiter state or heap", async () => {
  const store = memoryStore();
  const limit = grpcRateLimit({
    store,
    identity: (req) => `user:${req.header("x-user") ?? "anon"}`,
    policies: "1000000/min",
    maxConcurrent: 64,
    leaseMs: "1m",
    messages: { policies: "1000/s" },
  });
  h = await startGrpc([limit]);
  const server = h;
  const md = meta({ "x-user": "ann" });
  let client: GreeterClient = server.client();

  const cycle = (i: number): Promise<unknown> => {
    switch (i % 4) {
      case 0:
        return unary(client, "SayHello", "x", md);
      case 1:
        return new Promise((resolve) => {
          const c = (client.ClientStream as (...a: unknown[]) => ClientWritableStream<unknown>)(
            md,
            resolve,
          );
          c.write({ name: "a" });
          c.write({ name: "b" });
          c.end();
        });
      case 2:
        return new Promise((resolve) => {
          const c = (client.Chat as (...a: unknown[]) => ClientDuplexStream<unknown, unknown>)(md);
          c.on("data", () => {});
          c.on("error", resolve);
          c.on("end", resolve);
          c.write({ name: "a" });
          c.end();
        });
      default:
        return new Promise((resolve) => {
          const c = (client.Chat as (...a: unknown[]) => ClientDuplexStream<unknown, unknown>)(md);
          c.on("error", resolve);
          c.once("data", () => c.cancel());
          c.write({ name: "a" });
        });
    }
  };
  const run = async (from: number, to: number) => {
    for (let i = from; i < to; i += 50) {
      if (i % 500 === 0) {
        client.close();
        client = server.client();
      }
      await Promise.all(Array.from({ length: Math.min(50, to - i) }, (_, k) => cycle(i + k)));
    }
  };

  await run(0, 1000);
  const heapBefore = await settle();
  const keysBefore = (store as MemoryStore).size;
  await run(1000, 10_000);
  const heapAfter = await settle();

  expect(await limit.concurrency!.inFlight("user:ann")).toBe(0);
  expect((limit.messages!.store as MemoryStore).size).toBe(0);
  expect((store as MemoryStore).size).toBe(keysBefore);
  // grpc-js keeps some per-channel state of its own; 9,000 leaked calls of ours would be far more.
  expect(heapAfter - heapBefore).toBeLessThan(4 * 1024 * 1024);
  await limit.close();
}, 120_000);
