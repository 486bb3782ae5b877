/**
 * Differential test: random sequences of consume/peek/refund/reset/block/unblock, at random
 * (sometimes fractional) times and costs, on random single and composite policies (fixed and
 * escalating blockFor among them), driven
 * through memoryStore() and redisStore() with one manual clock. Every decision must be identical,
 * numbers compared bit for bit (Infinity and -0 included).
 */
import fc from "fast-check";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BanOptions } from "../../src/core/ban.js";
import type { Decision } from "../../src/core/decision.js";
import { createLimiter } from "../../src/core/limiter.js";
import { memoryStore } from "../../src/core/memory-store.js";
import { ALGORITHMS, type PolicyOptions } from "../../src/core/policy.js";
import type { Store } from "../../src/core/store.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import {
  type RedisCluster,
  type RedisNode,
  startCluster,
  startRedis,
} from "../support/redis-server.js";

const BUCKETS = new Set(["token-bucket", "gcra", "leaky-bucket"]);

const policyArb = (name: string): fc.Arbitrary<PolicyOptions> =>
  fc
    .record({
      algorithm: fc.constantFrom(...ALGORITHMS),
      limit: fc.integer({ min: 1, max: 8 }),
      window: fc.constantFrom(1000, 1500, 3000, 7000, 10_000, 60_000),
      burst: fc.option(fc.integer({ min: 1, max: 15 }), { nil: undefined }),
      blockFor: fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom(0, 0, 0, 2500, 20_000) },
        // Escalating penalties (issue 17 item 5): fractional factors make fractional products,
        // rounded up to whole ms the same way on both sides.
        {
          weight: 2,
          arbitrary: fc.record({
            base: fc.constantFrom(500, 1000, 2500),
            factor: fc.constantFrom(1, 1.5, 2, 3, 1.1),
            max: fc.constantFrom(3000, 20_000),
            forgetAfter: fc.constantFrom(2000, 15_000),
          }),
        },
      ),
      delay: fc.boolean(),
      // maxDelay is a positive duration (policy.ts refuses 0 since issue 13 item 10).
      maxDelay: fc.option(fc.integer({ min: 1, max: 8000 }), { nil: undefined }),
    })
    .map((r) => {
      const p: PolicyOptions = {
        name,
        limit: r.limit,
        window: r.window,
        algorithm: r.algorithm,
        blockFor: r.blockFor,
      };
      if (BUCKETS.has(r.algorithm) && r.burst !== undefined) p.burst = r.burst;
      if (r.algorithm === "leaky-bucket" && r.delay) {
        p.mode = "delay";
        if (r.maxDelay !== undefined) p.maxDelay = r.maxDelay;
      }
      return p;
    });

const policiesArb = fc.oneof(
  { weight: 3, arbitrary: policyArb("a").map((p) => [p]) },
  { weight: 2, arbitrary: fc.tuple(policyArb("a"), policyArb("b")) },
  { weight: 1, arbitrary: fc.tuple(policyArb("a"), policyArb("b"), policyArb("c")) },
);

type Op = {
  kind: "consume" | "peek" | "refund" | "reset" | "block" | "unblock";
  key: string;
  units: number;
  advance: number;
};

const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom(
    ...(["consume", "consume", "consume", "consume", "consume", "consume", "peek"] as const),
    ...(["refund", "reset", "block", "unblock"] as const),
  ),
  key: fc.constantFrom("k1", "k2", "k{3}"),
  units: fc.oneof(
    { weight: 6, arbitrary: fc.constant(1) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 16 }) },
  ),
  advance: fc.oneof(
    { weight: 4, arbitrary: fc.constant(0) },
    { weight: 4, arbitrary: fc.integer({ min: 1, max: 400 }) },
    { weight: 2, arbitrary: fc.integer({ min: 400, max: 12_000 }) },
    // Fractional times (a performance.now() clock): doubles must survive the trip to Lua.
    { weight: 1, arbitrary: fc.double({ min: 0, max: 2000, noNaN: true }) },
  ),
});

/**
 * Repeat offenders (issue 17 item 5): one escalating policy (beside maybe a plain one) hammered
 * on two keys, with pauses around the blocks' lengths and forgetAfter, so rows of blocks grow,
 * reach max and are forgotten (random sequences above seldom block one key twice).
 */
const escalatingArb = fc
  .record({
    algorithm: fc.constantFrom(...ALGORITHMS),
    limit: fc.integer({ min: 1, max: 3 }),
    window: fc.constantFrom(1000, 3000, 10_000),
    base: fc.constantFrom(700, 1000, 2500),
    factor: fc.constantFrom(1, 1.1, 1.5, 2, 2.7),
    max: fc.constantFrom(2500, 9000, 40_000),
    forgetAfter: fc.constantFrom(1500, 8000, 30_000),
    other: fc.option(policyArb("b"), { nil: undefined }),
  })
  .map((r): PolicyOptions[] => {
    const p: PolicyOptions = {
      name: "a",
      limit: r.limit,
      window: r.window,
      algorithm: r.algorithm,
      blockFor: { base: r.base, factor: r.factor, max: r.max, forgetAfter: r.forgetAfter },
    };
    return r.other === undefined ? [p] : [p, r.other];
  });

const offenderOpArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom(
    ...(["consume", "consume", "consume", "consume", "consume", "consume", "consume"] as const),
    ...(["peek", "reset", "block", "unblock"] as const),
  ),
  key: fc.constantFrom("k1", "k1", "k{2}"),
  units: fc.oneof(
    { weight: 8, arbitrary: fc.constant(1) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 }) },
  ),
  advance: fc.constantFrom(0, 0, 50, 300, 1000, 2600, 7000, 12_000, 35_000),
});

/** Every number spelled out exactly, so -0, Infinity and the last bit all count. */
function exact(d: Decision): string {
  return JSON.stringify(
    { ...d, policy: d.policy.id, policies: d.policies.map((p) => ({ ...p, policy: p.policy.id })) },
    (_k, v) => (typeof v === "number" ? (Object.is(v, -0) ? "-0" : String(v)) : v),
  );
}

let run = 0;

/** A ban (issue 17 item 5) on some runs: its count lives in the store under test too. */
const banArb = fc.option(
  fc.record({
    after: fc.integer({ min: 1, max: 4 }),
    within: fc.constantFrom(3000, 20_000),
    duration: fc.constantFrom(1000, 30_000),
  }),
  { nil: undefined, freq: 3 },
);

async function differential(
  redis: Store,
  policies: PolicyOptions[],
  ops: Op[],
  ban?: BanOptions,
): Promise<void> {
  const clock = manualClock(1_700_000_000_000 + (run % 97) * 13_337);
  const prefix = `diff${process.pid}-${run++}`;
  const common = { policies, prefix, clock: clock.now, logger: false as const };
  const withBan = ban === undefined ? common : { ...common, ban };
  const mem = createLimiter({ ...withBan, store: memoryStore() });
  const red = createLimiter({ ...withBan, store: redis });
  for (const [i, op] of ops.entries()) {
    clock.set(clock.now() + op.advance);
    const where = `op ${i} ${JSON.stringify(op)} at ${clock.now()}`;
    if (op.kind === "consume" || op.kind === "peek") {
      const m = await mem[op.kind](op.key, { cost: op.units });
      const r = await red[op.kind](op.key, { cost: op.units });
      expect(exact(r), where).toBe(exact(m));
    } else if (op.kind === "refund") {
      await Promise.all([mem.refund(op.key, op.units), red.refund(op.key, op.units)]);
    } else if (op.kind === "block") {
      const ms = op.units * 700;
      await Promise.all([mem.block(op.key, ms), red.block(op.key, ms)]);
    } else {
      await Promise.all([mem[op.kind](op.key), red[op.kind](op.key)]);
    }
  }
}

describe("memory and Redis decide identically", () => {
  let node: RedisNode;
  let cluster: RedisCluster;
  let client: Redis;
  let clusterClient: Cluster;
  let cached: Store;
  let uncached: Store;
  let onCluster: Store;

  beforeAll(async () => {
    [node, cluster] = await Promise.all([startRedis(), startCluster()]);
    client = new Redis(node.port, node.host);
    clusterClient = new Cluster([...cluster.seeds]);
    cached = redisStore({ client });
    uncached = redisStore({ client, localCache: false });
    onCluster = redisStore({ client: clusterClient });
  });

  afterAll(async () => {
    client?.disconnect();
    clusterClient?.disconnect();
    await Promise.all([node?.stop(), cluster?.stop()]);
  });

  it("single node, local cache off and on", async () => {
    await fc.assert(
      fc.asyncProperty(
        policiesArb,
        fc.array(opArb, { minLength: 1, maxLength: 80 }),
        fc.boolean(),
        banArb,
        async (policies, ops, withCache, ban) =>
          differential(withCache ? cached : uncached, policies, ops, ban),
      ),
      { numRuns: 1000 },
    );
  }, 120_000);

  it("escalating penalties: repeat offenders, single node and cluster", async () => {
    await fc.assert(
      fc.asyncProperty(
        escalatingArb,
        fc.array(offenderOpArb, { minLength: 10, maxLength: 80 }),
        fc.constantFrom("cached", "uncached", "cluster"),
        async (policies, ops, where) =>
          differential(
            where === "cached" ? cached : where === "uncached" ? uncached : onCluster,
            policies,
            ops,
          ),
      ),
      { numRuns: 300 },
    );
  }, 120_000);

  it("3-master cluster", async () => {
    await fc.assert(
      fc.asyncProperty(
        policiesArb,
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        banArb,
        async (policies, ops, ban) => differential(onCluster, policies, ops, ban),
      ),
      { numRuns: 150 },
    );
  }, 120_000);
});
