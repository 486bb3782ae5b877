/**
 * Two server processes on one Redis share one identity's maxConcurrent exactly, and a server
 * killed with SIGKILL frees its slots after leaseMs (real time is the point here), while the
 * survivor's calls keep theirs (it renews them).
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { credentials, status } from "@grpc/grpc-js";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createConcurrencyLimiter } from "../../src/index.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";
import {
  eventually,
  type GreeterClient,
  loadHello,
  meta,
  type UnaryResult,
  unary,
} from "./harness.js";

const CHILD = fileURLToPath(new URL("./fleet-child.ts", import.meta.url));
const MAX = 3;
const LEASE_MS = 1500;
const PREFIX = "fleet";

let redis: RedisNode;
let probe: Redis;
const children: ChildProcess[] = [];
const clients: GreeterClient[] = [];

function server(): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(
    CHILD,
    [JSON.stringify({ redisPort: redis.port, prefix: PREFIX, max: MAX, leaseMs: LEASE_MS })],
    {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("fleet child did not start")), 20_000);
    child.once("message", (m: { port: number }) => {
      clearTimeout(timer);
      resolve({ child, port: m.port });
    });
    child.once("exit", (code) => reject(new Error(`fleet child exited ${code}`)));
  });
}

function client(port: number): GreeterClient {
  const pkg = loadHello();
  const c = new pkg.hello.Greeter(
    `127.0.0.1:${port}`,
    credentials.createInsecure(),
  ) as unknown as GreeterClient;
  clients.push(c);
  return c;
}

beforeAll(async () => {
  redis = await startRedis();
  probe = new Redis(redis.port, redis.host);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  probe?.disconnect();
  await redis?.stop();
});

it("two servers share one identity's maxConcurrent exactly; a SIGKILLed server's slots free after leaseMs", async () => {
  const [a, b] = await Promise.all([server(), server()]);
  const slots = createConcurrencyLimiter({
    max: MAX,
    leaseMs: LEASE_MS,
    store: redisStore({ client: probe }),
    prefix: `${PREFIX}:cc`,
  });
  const inFlight = () => slots.inFlight("user:ann");
  const ca = client(a.port);
  const cb = client(b.port);
  const ann = () => meta({ "x-user": "ann" });

  const refused: UnaryResult[] = [];
  const pending: Promise<void>[] = [];
  const hold = (c: GreeterClient, user: string, name: string) =>
    pending.push(
      unary(c, "Hold", name, meta({ "x-user": user })).then((r) => {
        if (r.error?.code === status.RESOURCE_EXHAUSTED) refused.push(r);
      }),
    );

  // A race: eight calls for bob at once, four on each server: exactly MAX admitted fleet-wide.
  for (let i = 0; i < 8; i++) hold(i % 2 === 0 ? ca : cb, "bob", String(i));
  expect(await eventually(async () => refused.length === 8 - MAX, 10_000)).toBe(true);
  expect(await slots.inFlight("user:bob")).toBe(MAX);

  // ann: one call held on B, two on A; then four more across both are all refused.
  refused.length = 0;
  hold(cb, "ann", "b1");
  expect(await eventually(async () => (await inFlight()) === 1)).toBe(true);
  const aSentAt = Date.now();
  hold(ca, "ann", "a1");
  hold(ca, "ann", "a2");
  expect(await eventually(async () => (await inFlight()) === 3)).toBe(true);
  for (let i = 0; i < 4; i++) hold(i % 2 === 0 ? ca : cb, "ann", `x${i}`);
  expect(await eventually(async () => refused.length === 4, 10_000)).toBe(true);
  expect(await inFlight()).toBe(MAX);

  const killedAt = Date.now();
  a.child.kill("SIGKILL");
  await new Promise((r) => a.child.once("exit", r));
  expect(await inFlight()).toBe(MAX);
  const early = await unary(cb, "SayHello", "early", ann());
  if (Date.now() - killedAt < LEASE_MS - 200)
    expect(early.error?.code).toBe(status.RESOURCE_EXHAUSTED);

  // After leaseMs, A's leases are gone; B's held calls keep theirs (renewed every leaseMs / 3).
  expect(await eventually(async () => (await inFlight()) < MAX, LEASE_MS + 3000)).toBe(true);
  // A's leases were granted after aSentAt: they cannot have expired before aSentAt + leaseMs.
  expect(Date.now() - aSentAt).toBeGreaterThanOrEqual(LEASE_MS - 50);
  const survivors = await inFlight();
  expect(survivors).toBe(1);
  // Wait past another lease period: the survivor's slots are still held (renewal works).
  await new Promise((r) => setTimeout(r, LEASE_MS + 200));
  expect(await inFlight()).toBe(survivors);
  // The freed slots are B's to take now, and no more.
  const more: Promise<UnaryResult>[] = [];
  for (let i = 0; i < MAX - survivors + 1; i++)
    more.push(unary(cb, "Hold", `m${i}`, ann(), { deadline: Date.now() + 1500 }));
  const settled = await Promise.all(more);
  expect(settled.filter((r) => r.error?.code === status.RESOURCE_EXHAUSTED)).toHaveLength(1);
  expect(settled.filter((r) => r.error?.code === status.DEADLINE_EXCEEDED)).toHaveLength(
    MAX - survivors,
  );
  void pending;
}, 60_000);
