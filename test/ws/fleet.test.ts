/**
 * Two ws server processes on one Redis (single node and cluster) share one identity's
 * maxConnections exactly; a process killed with SIGKILL frees its slots after leaseMs (real
 * time is the point here: the dead process renews nothing).
 */
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConcurrencyLimiter } from "../../src/core/concurrency.js";
import { redisStore } from "../../src/stores/redis/index.js";
import {
  type RedisCluster,
  type RedisNode,
  startCluster,
  startRedis,
} from "../support/redis-server.js";
import { type Client, connect } from "./harness.js";

const CHILD = join(import.meta.dirname, "fleet-child.ts");
const MAX = 3;
const LEASE_MS = 1500;
const children = new Set<ChildProcess>();
let node: RedisNode;
let cluster: RedisCluster;

beforeAll(async () => {
  [node, cluster] = await Promise.all([startRedis(), startCluster()]);
}, 60_000);

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await Promise.all([node?.stop(), cluster?.stop()]);
});

function start(config: object): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(CHILD, [JSON.stringify(config)], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("child did not start")), 20_000);
    child.once("message", (m) => {
      clearTimeout(timer);
      resolve({ child, port: (m as { port: number }).port });
    });
  });
}

for (const kind of ["single", "cluster"] as const) {
  describe(`ws fleet: two processes on one Redis (${kind})`, () => {
    it("share one identity's maxConnections exactly; SIGKILL frees after leaseMs", async () => {
      const seeds = kind === "single" ? [{ host: node.host, port: node.port }] : [...cluster.seeds];
      const prefix = `fleet-${kind}-${process.pid}`;
      const config = { seeds, cluster: kind === "cluster", prefix, max: MAX, leaseMs: LEASE_MS };
      const [a, b] = await Promise.all([start(config), start(config)]);
      const redis = kind === "single" ? new Redis(node.port, node.host) : new Cluster(seeds);
      const slots = createConcurrencyLimiter({
        max: MAX,
        leaseMs: LEASE_MS,
        store: redisStore({ client: redis }),
        prefix: `${prefix}:ws:open`,
      });
      const open: Client[] = [];
      try {
        // One on a first (so a holds a slot to lose), then 7 upgrades at once alternating
        // between the processes: exactly MAX admitted in all.
        const first = await connect(a.port);
        if (!first.refused) open.push(first.ws);
        const results = await Promise.all(
          Array.from({ length: 7 }, (_, i) => connect(i % 2 === 0 ? b.port : a.port)),
        );
        const admitted = results.filter((r) => !r.refused);
        for (const r of admitted) if (!r.refused) open.push(r.ws);
        expect(first.refused).toBe(false);
        expect(admitted).toHaveLength(MAX - 1);
        expect(results.filter((r) => r.refused && r.status === 429)).toHaveLength(7 - (MAX - 1));
        expect(await slots.inFlight("127.0.0.1")).toBe(MAX);
        // Keep only connections to process a, or make sure a holds at least one.
        const onA = await openOn(a.port, open);
        expect(onA).toBeGreaterThanOrEqual(1);
        const killedAt = Date.now();
        a.child.kill("SIGKILL");
        // The dead process's slots stay held (nobody can release them) until leaseMs passes.
        const soon = await connect(b.port);
        if (Date.now() - killedAt < LEASE_MS - 200) expect(soon.refused).toBe(true);
        if (!soon.refused) soon.ws.terminate();
        // b keeps renewing its own; a's expire: then b admits as many as a held.
        const deadline = Date.now() + LEASE_MS * 4;
        while ((await slots.inFlight("127.0.0.1")) > MAX - onA && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 50));
        expect(Date.now() - killedAt).toBeGreaterThanOrEqual(LEASE_MS - 100);
        expect(await slots.inFlight("127.0.0.1")).toBe(MAX - onA);
        for (let i = 0; i < onA; i++) {
          const r = await connect(b.port);
          expect(r.refused).toBe(false);
          if (!r.refused) open.push(r.ws);
        }
        const over = await connect(b.port);
        expect(over.refused && over.status).toBe(429);
      } finally {
        for (const c of open) c.terminate();
        a.child.kill("SIGKILL");
        b.child.kill("SIGKILL");
        redis.disconnect();
      }
    }, 60_000);
  });
}

/** How many of the open clients are connected to `port` (the server's port on their socket). */
async function openOn(port: number, clients: Client[]): Promise<number> {
  return clients.filter(
    (c) => (c as unknown as { _socket: { remotePort: number } })._socket.remotePort === port,
  ).length;
}
