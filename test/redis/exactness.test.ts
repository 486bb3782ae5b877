/**
 * Exactness under concurrency: 4 processes × 5000 consumes on one key, for every algorithm, on a
 * single node and on a 3-master cluster, mixing ioredis and node-redis and batch sizes. The
 * admitted total must equal the capacity exactly: no lost update, no double admission.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALGORITHMS } from "../../src/core/policy.js";
import {
  type RedisCluster,
  type RedisNode,
  startCluster,
  startRedis,
} from "../support/redis-server.js";

const CHILD = fileURLToPath(new URL("./exactness-child.ts", import.meta.url));
const LIMIT = 3000;
const PER_PROCESS = 5000;
const WORKERS = [
  { client: "ioredis", maxBatch: 128 },
  { client: "node-redis", maxBatch: 1 },
  { client: "ioredis", maxBatch: 7 },
  { client: "node-redis", maxBatch: 128 },
] as const;

const children = new Set<ChildProcess>();

async function hammer(seeds: { host: string; port: number }[], cluster: boolean) {
  const prefix = `exact-${cluster ? "cluster" : "single"}-${process.pid}`;
  const procs = WORKERS.map((w) => {
    const config = {
      seeds,
      cluster,
      ...w,
      prefix,
      limit: LIMIT,
      count: PER_PROCESS,
      inFlight: 64,
    };
    const child = fork(CHILD, [JSON.stringify(config)], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.add(child);
    const result = new Promise<{ admitted: Record<string, number>; degraded: number }>(
      (resolve, reject) => {
        child.once("message", (m) => resolve(m as never));
        child.once("exit", (code) => {
          children.delete(child);
          reject(new Error(`worker exited with ${code} before reporting`));
        });
      },
    );
    const ready = new Promise<void>((resolve) => child.once("spawn", () => resolve()));
    return { child, result, ready };
  });
  await Promise.all(procs.map((p) => p.ready));
  // Workers connect, then wait for "go": give them a moment so they start together.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  for (const p of procs) p.child.send("go");
  const results = await Promise.all(procs.map((p) => p.result));
  const totals: Record<string, number> = {};
  for (const algorithm of ALGORITHMS) {
    totals[algorithm] = results.reduce((sum, r) => sum + (r.admitted[algorithm] ?? 0), 0);
  }
  return { totals, degraded: results.reduce((s, r) => s + r.degraded, 0) };
}

describe("exactness: 4 processes × 5000 consumes on one key", () => {
  let node: RedisNode;
  let cluster: RedisCluster;

  beforeAll(async () => {
    [node, cluster] = await Promise.all([startRedis(), startCluster()]);
  });

  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    await Promise.all([node?.stop(), cluster?.stop()]);
  });

  const expected = Object.fromEntries(ALGORITHMS.map((a) => [a, LIMIT]));

  it("single node: admitted equals the capacity for every algorithm", async () => {
    const { totals, degraded } = await hammer([{ host: node.host, port: node.port }], false);
    expect(degraded).toBe(0);
    expect(totals).toEqual(expected);
  }, 120_000);

  it("3-master cluster: admitted equals the capacity for every algorithm", async () => {
    const { totals, degraded } = await hammer([...cluster.seeds], true);
    expect(degraded).toBe(0);
    expect(totals).toEqual(expected);
  }, 120_000);
});
