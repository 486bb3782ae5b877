/**
 * Faults: redis-server is killed (SIGKILL) and restarted while a load runs. No request may wait
 * past the timeout (plus scheduling slack), nothing may end as an unhandled rejection, decisions
 * during the outage follow onStoreError, and after the restart decisions are exact again without
 * touching the application (same client, same store, same limiter).
 */
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Decision } from "../../src/core/decision.js";
import { createLimiter, type Limiter } from "../../src/core/limiter.js";
import {
  type RedisStore,
  type RedisStoreOptions,
  redisStore,
} from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";
import { nodeRedisMajors } from "./node-redis.js";

const TIMEOUT_MS = 200;
/** Event-loop and timer slack on a shared 2-core machine; far below "hanging". */
const SLACK_MS = 400;
const LIMIT = 5;

let server: RedisNode;
let unhandled = 0;
const onUnhandled = () => {
  unhandled++;
};

beforeAll(async () => {
  server = await startRedis();
  process.on("unhandledRejection", onUnhandled);
});

afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  await server?.stop();
});

beforeEach(() => {
  unhandled = 0;
});

type Phase = "before" | "outage" | "after";
type Tally = {
  count: number;
  degraded: number;
  degradedAllowed: number;
  degradedRejected: number;
  /** Refusals with a quota reason (limited, blocked): the fallback's refusals during an outage. */
  limited: number;
};
const emptyTally = (): Tally => ({
  count: 0,
  degraded: 0,
  degradedAllowed: 0,
  degradedRejected: 0,
  limited: 0,
});

/**
 * Runs `workers` loops of consumes over `keys` keys until stopped (at most `maxOps`), tallying
 * decisions by the phase each call started in, and the longest wait of any call.
 */
function load(limiter: Limiter, workers = 40, keys = 200, maxOps = 2_000_000) {
  let phase: Phase = "before";
  let running = true;
  let ops = 0;
  let maxLatency = 0;
  let badRetry = 0;
  const tally: Record<Phase, Tally> = {
    before: emptyTally(),
    outage: emptyTally(),
    after: emptyTally(),
  };
  const loops = Array.from({ length: workers }, async (_, w) => {
    while (running && ops < maxOps) {
      ops++;
      const started = performance.now();
      const t = tally[phase];
      const d = await limiter.consume(`load-${(w * 7919 + ops) % keys}`);
      maxLatency = Math.max(maxLatency, performance.now() - started);
      t.count++;
      if (d.reason === "degraded") {
        t.degraded++;
        if (d.allowed) t.degradedAllowed++;
        else {
          t.degradedRejected++;
          if (!(d.retryAfterMs > 0)) badRetry++;
        }
      } else if (!d.allowed) {
        t.limited++;
        if (!(d.retryAfterMs > 0)) badRetry++;
      }
      // Yield so timers (the per-call timeout among them) run even when answers are instant.
      if (ops % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  });
  return {
    tally,
    setPhase(p: Phase) {
      phase = p;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      return { maxLatency, badRetry };
    },
  };
}

async function until(what: string, check: () => Promise<boolean>, ms = 10_000) {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Kill, keep the load on through the outage, restart, wait for recovery; returns the figures. */
async function outage(limiter: Limiter, loadLimiter: Limiter, store: RedisStore) {
  const run = load(loadLimiter);
  await pause(300);
  run.setPhase("outage");
  await server.kill();
  await pause(1500);
  const outageEnd = performance.now();
  await server.restart();
  await until("recovery", async () => {
    const d = await limiter.peek("probe-key");
    return d.reason !== "degraded";
  });
  const recoveredAfter = performance.now() - outageEnd;
  run.setPhase("after");
  await pause(200);
  const { maxLatency, badRetry } = await run.stop();
  const during = run.tally.outage;
  // Exact again: a key never seen admits exactly the limit, then rejects.
  const fresh = `fresh-${Date.now()}`;
  const admitted: boolean[] = [];
  for (let i = 0; i < LIMIT + 3; i++) admitted.push((await limiter.consume(fresh)).allowed);
  const total = run.tally.before.count + during.count + run.tally.after.count;
  return { during, maxLatency, badRetry, recoveredAfter, admitted, total, store };
}

function figures(name: string, r: Awaited<ReturnType<typeof outage>>) {
  console.log(
    `[faults] ${name}: ${r.total} decisions, ${r.during.count} during the outage (${r.during.degraded} degraded), ` +
      `max latency ${r.maxLatency.toFixed(1)} ms (timeout ${TIMEOUT_MS}), recovered ${r.recoveredAfter.toFixed(0)} ms after restart, ` +
      `unhandled rejections ${unhandled}, Redis commands ${r.store.stats.commands}`,
  );
}

function setup(
  client: RedisStoreOptions["client"],
  mode: "fail-open" | "fail-closed" | "fallback",
) {
  const store = redisStore({
    client,
    timeout: TIMEOUT_MS,
    onStoreError: mode,
    circuitBreaker: { failures: 3, cooldown: "250ms" },
    // Off so the load keeps reaching Redis (the cache has its own tests).
    localCache: false,
    logger: false,
  });
  const limiter = createLimiter({
    policies: { limit: LIMIT, window: "1h", algorithm: "fixed-window" },
    store,
    prefix: `faults-${mode}-${Date.now()}`,
  });
  // The load's limiter: 50 per key, so Redis mostly admits and the fallback visibly limits.
  const loadLimiter = createLimiter({
    policies: { limit: 50, window: "1h", algorithm: "sliding-window" },
    store,
    prefix: `faults-load-${mode}-${Date.now()}`,
  });
  return { store, limiter, loadLimiter };
}

describe("Redis killed and restarted under load", () => {
  let io: Redis;

  beforeEach(() => {
    // Default ioredis options on purpose: the offline queue holds commands while reconnecting,
    // the worst case for waiting, which the store's own timer must bound.
    io = new Redis(server.port, server.host);
    io.on("error", () => {});
  });

  afterEach(() => {
    io.disconnect();
  });

  for (const mode of ["fail-open", "fail-closed", "fallback"] as const) {
    it(`ioredis, onStoreError "${mode}"`, async () => {
      const { store, limiter, loadLimiter } = setup(io, mode);
      await until("ready", async () => (await limiter.peek("x")).reason !== "degraded");
      const r = await outage(limiter, loadLimiter, store);
      figures(`ioredis ${mode}`, r);
      expect(unhandled).toBe(0);
      expect(r.maxLatency).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      const d = r.during;
      expect(d.degraded).toBeGreaterThan(0);
      expect(r.badRetry).toBe(0);
      if (mode === "fail-open") expect(d.degradedRejected).toBe(0);
      if (mode === "fail-closed") expect(d.degradedAllowed).toBe(0);
      if (mode === "fallback") {
        // The local limiter holds the limits: admissions are degraded (per process, not
        // fleet-wide); refusals keep the local quota reason, so HTTP answers them 429.
        expect(d.degradedAllowed).toBeGreaterThan(0);
        expect(d.degradedRejected).toBe(0);
        expect(d.limited).toBeGreaterThan(0);
      }
      expect(r.admitted).toEqual([...Array(LIMIT).fill(true), false, false, false]);
    }, 30_000);
  }

  it("logs the outage once when it begins and once when it ends, for a whole burst (issue 13, item 12)", async () => {
    const lines: string[] = [];
    const store = redisStore({
      client: io,
      timeout: TIMEOUT_MS,
      onStoreError: "fallback",
      circuitBreaker: { failures: 3, cooldown: "250ms" },
      localCache: false,
      logger: { warn: (message) => lines.push(message) },
    });
    const limiter = createLimiter({
      policies: { limit: 50, window: "1h" },
      store,
      prefix: `faults-log-${Date.now()}`,
    });
    await until("ready", async () => (await limiter.peek("x")).reason !== "degraded");
    const run = load(limiter);
    await pause(300);
    await server.kill();
    await pause(1500);
    await server.restart();
    await until("recovery", async () => (await limiter.peek("probe-key")).reason !== "degraded");
    // Keep the burst on a while after recovery: replies to commands queued during the outage
    // arrive now, and none of them may log again.
    await pause(500);
    await run.stop();
    const total = run.tally.before.count + run.tally.outage.count + run.tally.after.count;
    expect(total).toBeGreaterThan(1000);
    expect(store.stats.degraded).toBeGreaterThan(100);
    expect(lines.map((l) => l.match(/WARN_TK_\w+/)?.[0])).toEqual([
      "WARN_TK_STORE_OUTAGE",
      "WARN_TK_STORE_RECOVERED",
    ]);
    expect(lines[0]).toMatch(/onStoreError "fallback"/);
    expect(lines[1]).toMatch(/answers again after \d+ ms; \d+ decisions were answered degraded/);
    expect(unhandled).toBe(0);
  }, 30_000);

  it("fallback mode keeps exact per-key limits locally while Redis is down", async () => {
    const { store, limiter } = setup(io, "fallback");
    await until("ready", async () => (await limiter.peek("x")).reason !== "degraded");
    await server.kill();
    try {
      const decisions: Decision[] = [];
      for (let i = 0; i < LIMIT + 2; i++) decisions.push(await limiter.consume("offline-key"));
      expect(decisions.map((d) => d.reason)).toEqual([
        ...Array(LIMIT).fill("degraded"),
        "limited",
        "limited",
      ]);
      expect(decisions.map((d) => d.allowed)).toEqual([...Array(LIMIT).fill(true), false, false]);
      expect(store.circuitOpen).toBe(true);
      await expect(limiter.reset("offline-key")).rejects.toMatchObject({ name: "StoreError" });
      // ...but the local limiter took the reset.
      expect((await limiter.consume("offline-key")).allowed).toBe(true);
    } finally {
      await server.restart();
    }
    expect(unhandled).toBe(0);
  }, 30_000);

  it("ioredis with the recommended fail-fast options", async () => {
    const client = new Redis(server.port, server.host, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    client.on("error", () => {});
    await until("connected", async () => client.status === "ready");
    try {
      const { store, limiter, loadLimiter } = setup(client, "fail-open");
      const r = await outage(limiter, loadLimiter, store);
      figures("ioredis fail-fast fail-open", r);
      expect(unhandled).toBe(0);
      expect(r.maxLatency).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      expect(r.admitted).toEqual([...Array(LIMIT).fill(true), false, false, false]);
    } finally {
      client.disconnect();
    }
  }, 30_000);

  for (const major of nodeRedisMajors) {
    it(`${major.name}, onStoreError fallback`, async () => {
      const connection = await major.client(server);
      try {
        const { store, limiter, loadLimiter } = setup(connection.client, "fallback");
        const r = await outage(limiter, loadLimiter, store);
        figures(`${major.name} fallback`, r);
        expect(unhandled).toBe(0);
        expect(r.maxLatency).toBeLessThan(TIMEOUT_MS + SLACK_MS);
        expect(r.admitted).toEqual([...Array(LIMIT).fill(true), false, false, false]);
      } finally {
        connection.destroy();
      }
    }, 30_000);
  }
});
