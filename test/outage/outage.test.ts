/**
 * A Redis outage under load, through every adapter and Nest (issue 13, items 2 and 4): Redis
 * down at start, killed mid-run (SIGKILL) and stalled (SIGSTOP, then SIGCONT). For each
 * onStoreError mode a burst of concurrent requests gets only that mode's answers, never a 500,
 * each within the store's timeout plus scheduling slack:
 * - fail-open: 200;
 * - fallback: the local limiter's answers (200 up to its limit, then 429 quota-exceeded: the client
 *   did exceed the policy as this process counts it);
 * - fail-closed: 503 temporary-reduced-capacity with Retry-After and no-store.
 * A deny entry in force before the outage keeps applying during it (the lists' last snapshot).
 */
import { once } from "node:events";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../src/core/store.js";
import { TEMPORARY_REDUCED_CAPACITY_TYPE } from "../../src/http/index.js";
import type { HttpLimiterOptions } from "../../src/http/options.js";
import { redisStore } from "../../src/stores/redis/index.js";
import type { AdapterRunner, RunningServer } from "../adapter-contract/contract.js";
import { freePort, type RedisNode, startRedis } from "../support/redis-server.js";
import { RUNNERS } from "./runners.js";

const TIMEOUT_MS = 100;
/** Event-loop, connection and scheduling slack on a small shared machine; far below hanging. */
const SLACK_MS = 1500;
const BURST = 30;
const LIMIT = 20;
const MODES = ["fail-open", "fallback", "fail-closed"] as const;
type Mode = (typeof MODES)[number];

type Answer = {
  readonly status: number;
  readonly ms: number;
  readonly headers: Headers;
  readonly body: string;
};

type Case = {
  readonly runner: AdapterRunner;
  readonly mode: Mode;
  readonly server: RunningServer;
  readonly store: Store;
  readonly prefix: string;
};

let counter = 0;
let unhandled = 0;
const onUnhandled = () => {
  unhandled++;
};
const clients: Redis[] = [];
const cases: Case[] = [];

beforeAll(() => {
  process.on("unhandledRejection", onUnhandled);
});
afterAll(() => {
  process.off("unhandledRejection", onUnhandled);
});
afterEach(async () => {
  await Promise.all(cases.splice(0).map((c) => c.server.close()));
  for (const c of clients.splice(0)) c.disconnect();
});

/** An ioredis client configured to fail fast (docs/redis.md): no offline queue, one retry. */
function client(port: number): Redis {
  const c = new Redis({
    host: "127.0.0.1",
    port,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
  });
  c.on("error", () => {});
  clients.push(c);
  return c;
}

const isNest = (runner: AdapterRunner) => runner.name.startsWith("nest");

/**
 * Starts every adapter under every mode, each with its own client and prefix; with `up`, waits
 * until each client is connected (a fail-fast client refuses commands until then).
 */
async function startAll(port: number, up: boolean): Promise<Case[]> {
  const started: Case[] = [];
  for (const runner of RUNNERS) {
    for (const mode of MODES) {
      const redis = client(port);
      if (up && redis.status !== "ready") await once(redis, "ready");
      const store = redisStore({
        client: redis,
        timeout: TIMEOUT_MS,
        onStoreError: mode,
        circuitBreaker: { failures: 3, cooldown: "500ms" },
        logger: false,
      });
      const prefix = `out${process.pid}x${++counter}`;
      const options: HttpLimiterOptions = {
        policies: `${LIMIT}/min`,
        store,
        prefix,
        identity: (req) => `user:${req.header("x-user") ?? "anon"}`,
        deny: ["user:static-denied"],
        listsRefresh: "200ms",
        logger: false,
      };
      const server = await runner.start(options);
      const c = { runner, mode, server, store, prefix };
      cases.push(c);
      started.push(c);
    }
  }
  return started;
}

async function request(c: Case, user: string): Promise<Answer> {
  const t0 = performance.now();
  const res = await fetch(`${c.server.url}/x`, { headers: { "x-user": user } });
  const body = await res.text();
  return { status: res.status, ms: performance.now() - t0, headers: res.headers, body };
}

/** BURST concurrent requests from one user. */
function burst(c: Case, user: string): Promise<Answer[]> {
  return Promise.all(Array.from({ length: BURST }, () => request(c, user)));
}

/** Asserts the answers a mode allows during an outage, and the time bound. */
function expectModeAnswers(c: Case, answers: readonly Answer[]): void {
  const where = `${c.runner.name} / ${c.mode}`;
  const statuses = answers.map((a) => a.status);
  for (const a of answers) {
    expect(a.ms, `${where}: answered within timeout + slack`).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    if (a.status === 503) {
      expect(Number(a.headers.get("retry-after")), `${where}: Retry-After`).toBeGreaterThan(0);
      expect(a.headers.get("cache-control"), where).toBe("no-store");
      expect(a.headers.get("content-type"), where).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(a.body).type, where).toBe(TEMPORARY_REDUCED_CAPACITY_TYPE);
    }
  }
  if (c.mode === "fail-open") expect(statuses, where).toEqual(Array(BURST).fill(200));
  if (c.mode === "fail-closed") expect(statuses, where).toEqual(Array(BURST).fill(503));
  if (c.mode === "fallback") {
    // The local limiter decides: its limit passes, the rest is refused as over the quota.
    expect(statuses.filter((s) => s === 200).length, where).toBe(LIMIT);
    expect(statuses.filter((s) => s === 429).length, where).toBe(BURST - LIMIT);
  }
}

/** Every case answers its mode's answers for a burst; HTTP adapters keep their deny entries. */
async function expectOutageAnswers(all: readonly Case[], denied: string): Promise<void> {
  // One adapter's burst at a time: 30 concurrent requests is the load; 600 at once would only
  // measure this small machine's scheduler.
  for (const c of all) expectModeAnswers(c, await burst(c, "alice"));
  for (const c of all) {
    if (isNest(c.runner)) continue;
    const answers = await Promise.all([request(c, denied), request(c, "static-denied")]);
    expect(
      answers.map((a) => a.status),
      `${c.runner.name} / ${c.mode}: deny entries apply`,
    ).toEqual([403, 403]);
  }
  expect(unhandled).toBe(0);
}

/** Adds a deny entry through the store and waits (bounded) until every HTTP adapter applies it. */
async function denyBeforeOutage(all: readonly Case[], user: string): Promise<void> {
  const lists = all[0]!.store.lists;
  if (lists === undefined) throw new Error("the Redis store keeps lists");
  for (const c of all) {
    if (isNest(c.runner)) continue;
    await lists(c.prefix).add({ list: "deny", value: `user:${user}` }, undefined);
  }
  const deadline = Date.now() + 5000;
  for (const c of all) {
    if (isNest(c.runner)) continue;
    // listsRefresh is 200 ms: the entry is read within a poll or two.
    while ((await request(c, user)).status !== 403) {
      if (Date.now() > deadline) throw new Error(`${c.runner.name}: deny entry never applied`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe("a Redis outage under load: only the configured mode's answers, on every adapter", () => {
  let node: RedisNode | undefined;
  afterAll(async () => {
    await node?.stop();
  });

  it("Redis down at start", async () => {
    const all = await startAll(await freePort(), false);
    await expectOutageAnswers(all, "static-denied");
  });

  it("Redis killed mid-run (SIGKILL)", async () => {
    node = await startRedis();
    const all = await startAll(node.port, true);
    for (const c of all) expect((await request(c, "warm")).status, c.runner.name).toBe(200);
    await denyBeforeOutage(all, "mallory");
    await node.kill();
    await expectOutageAnswers(all, "mallory");
  });

  it("Redis stalled (SIGSTOP, then SIGCONT)", async () => {
    node ??= await startRedis();
    if (node.pid() === undefined) await node.restart();
    const all = await startAll(node.port, true);
    for (const c of all) expect((await request(c, "warm")).status, c.runner.name).toBe(200);
    await denyBeforeOutage(all, "mallory");
    const pid = node.pid()!;
    process.kill(pid, "SIGSTOP");
    try {
      await expectOutageAnswers(all, "mallory");
    } finally {
      process.kill(pid, "SIGCONT");
    }
  });
});
