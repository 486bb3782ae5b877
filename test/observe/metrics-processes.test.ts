/**
 * Fleet metrics across real processes (issue 17, item 2): two child processes, each with its
 * own limiter and collector, record into one real redis-server; readFleetMetrics in this process
 * sees the sum of both.
 */
import { fork, spawn } from "node:child_process";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { readFleetMetrics } from "../../src/core/metrics/read-fleet.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";

const WORKER = join(import.meta.dirname, "metrics-fleet-worker.ts");
let node: RedisNode;
let client: Redis;

beforeAll(async () => {
  node = await startRedis();
  client = new Redis(node.port, node.host);
});

afterAll(async () => {
  client?.disconnect();
  await node?.stop();
});

function run(key: string, requests: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = fork(WORKER, [String(node.port), "procs", key, String(requests)], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    child.once("message", (m) => resolve((m as { done: number }).done));
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`worker for ${key} exited with ${code}`));
    });
  });
}

it("two processes record into one Redis; the fleet read sees both", async () => {
  const from = Date.now();
  const counted = await Promise.all([run("alice", 8), run("bob", 3)]);
  expect(counted).toEqual([8, 3]);
  const fleet = await readFleetMetrics({
    store: redisStore({ client }),
    prefix: "procs",
    from: from - 1000,
    to: Date.now(),
  });
  expect(fleet.total).toMatchObject({ requests: 11, allowed: 8, limited: 3 });
  expect(fleet.rules.api!.policies["5/1h"]).toMatchObject({ requests: 11 });
  expect(fleet.topOffenders).toEqual([{ key: "alice", count: 3, error: 0 }]);
}, 60_000);

it("a collector recording to a store never keeps a process alive", async () => {
  const script = [
    'import { createLimiter, memoryStore } from "./src/index.ts";',
    'const limiter = createLimiter({ policies: "1/s", metrics: { store: memoryStore() } });',
    'limiter.consumeSync("k");',
    'console.log("done");',
  ].join("\n");
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: join(import.meta.dirname, "../.."),
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  // Exits by itself once its work is done, the flush timer still armed (unref'd).
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  expect(out.trim()).toBe("done");
  expect(code).toBe(0);
}, 60_000);
