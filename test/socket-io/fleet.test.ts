/**
 * Two Socket.IO server processes on one Redis share one identity's maxConnections exactly, and
 * a process killed with SIGKILL frees its slots once their leases expire (real time: the point).
 */
import { type ChildProcess, fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RedisNode, startRedis } from "../support/redis-server.js";
import { closeClients, connect, eventually } from "./harness.js";

const CHILD = join(dirname(fileURLToPath(import.meta.url)), "fleet-child.ts");
const MAX = 5;
const LEASE_MS = 1500;
let redis: RedisNode;
const children: ChildProcess[] = [];

function spawnServer(): Promise<{ child: ChildProcess; url: string }> {
  const config = { port: redis.port, prefix: `fleet${process.pid}`, max: MAX, leaseMs: LEASE_MS };
  const child = fork(CHILD, [JSON.stringify(config)], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once("message", (m) =>
      resolve({ child, url: `http://127.0.0.1:${(m as { port: number }).port}` }),
    );
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
}

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);

afterAll(async () => {
  closeClients();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await redis?.stop();
});

const attempt = (url: string) =>
  connect(url).then(
    () => true,
    () => false,
  );

it("two processes share maxConnections exactly; SIGKILL frees the dead one's slots after leaseMs", async () => {
  const [a, b] = await Promise.all([spawnServer(), spawnServer()]);
  // Two held on A first (so the kill below frees something), then 14 simultaneous attempts
  // alternating between the two processes for the 3 slots left.
  expect(await attempt(a.url)).toBe(true);
  expect(await attempt(a.url)).toBe(true);
  const urls = Array.from({ length: 14 }, (_, i) => (i % 2 === 0 ? a.url : b.url));
  const admitted = await Promise.all(urls.map(attempt));
  expect(admitted.filter(Boolean)).toHaveLength(MAX - 2);
  const onA = 2 + admitted.filter((ok, i) => ok && i % 2 === 0).length;
  expect(await attempt(b.url)).toBe(false);

  const killedAt = Date.now();
  a.child.kill("SIGKILL");
  await new Promise((resolve) => a.child.once("exit", resolve));
  // The dead process's sockets are gone but Redis still holds their leases for a while.
  expect(await attempt(b.url)).toBe(false);
  let back = 0;
  let firstBackAt = 0;
  await eventually(async () => {
    if ((await attempt(b.url)) && ++back === 1) firstBackAt = Date.now();
    return back === onA;
  }, 10_000);
  // Leases are renewed every leaseMs / 3, so the first frees at least 2/3 of leaseMs after the kill.
  expect(firstBackAt - killedAt).toBeGreaterThanOrEqual((LEASE_MS * 2) / 3 - 100);
  // Exactly onA slots came back: the live process's renewed leases were never lost.
  expect(await attempt(b.url)).toBe(false);
}, 30_000);
