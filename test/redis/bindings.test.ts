/**
 * The Redis store's bindings (one per prefix + policy set, each with its batch queue and local
 * cache) are bounded: a policy function that builds limits from client input mints one per
 * distinct limit, and the store must not keep them all. A binding goes once no limiter uses it
 * and nothing of it is queued or in flight; one in use keeps its local cache and is shared by
 * every bind of its prefix and policies.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createLimiter } from "../../src/core/limiter.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let node: RedisNode;
let io: Redis;

beforeAll(async () => {
  node = await startRedis();
  io = new Redis(node.port, node.host);
});

afterAll(async () => {
  io?.disconnect();
  await node?.stop();
});

/** Collects garbage and lets the finalizers that follow run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
}

type Counts = { readonly bindingCount: number };

it("100,000 attacker-chosen policy sets leave a bounded registry; bindings in use keep theirs", async () => {
  const store = redisStore({ client: io, logger: false, timeout: "5s" });
  const counts = store as unknown as Counts;
  const opts = { store, prefix: `b${process.pid}` } as const;

  const live = createLimiter({ ...opts, policies: "1000/1d" });
  for (let i = 0; i < 5; i++) await live.consume("alice");
  // A key Redis blocked: the live binding's local cache answers it from now on.
  const guarded = createLimiter({ ...opts, policies: { limit: 1, window: "1d", blockFor: "1d" } });
  await guarded.consume("eve");
  expect(await guarded.consume("eve")).toMatchObject({ allowed: false, reason: "limited" });
  for (let i = 0; i < 3; i++) await createLimiter({ ...opts, policies: "3/1d" }).consume("bob");

  let most = 0;
  for (let chunk = 0; chunk < 100; chunk++) {
    const pending: Promise<unknown>[] = [];
    for (let i = chunk * 1000; i < (chunk + 1) * 1000; i++) {
      // What `(req) => \`${req.header("x-limit")}/s\`` builds, one request per distinct value.
      pending.push(createLimiter({ ...opts, policies: `${i + 2}/s` }).consume("mallory"));
    }
    await Promise.all(pending);
    if (chunk % 10 === 9) {
      await settle();
      most = Math.max(most, counts.bindingCount);
    }
  }
  // Only the bindings limiters still use: live, guarded (and none of the 100,000).
  expect(most).toBeLessThanOrEqual(2);
  expect(counts.bindingCount).toBe(2);

  expect((await live.peek("alice")).remaining).toBe(995);
  // A second bind of the same prefix and policies shares the binding, local cache included.
  const twin = createLimiter({ ...opts, policies: { limit: 1, window: "1d", blockFor: "1d" } });
  const hits = store.stats.localHits;
  expect(await twin.consume("eve")).toMatchObject({ allowed: false, reason: "blocked" });
  expect(store.stats.localHits).toBe(hits + 1);
  expect(counts.bindingCount).toBe(2);
  expect(await guarded.consume("eve")).toMatchObject({ allowed: false, reason: "blocked" });
  expect(store.stats.localHits).toBe(hits + 2);
  // Counters live in Redis: a binding collected and bound again finds them.
  const bob = await createLimiter({ ...opts, policies: "3/1d" }).consume("bob");
  expect(bob).toMatchObject({ allowed: false, remaining: 0 });
}, 120_000);

it("a binding with an operation in flight is not collected before it is answered", async () => {
  const store = redisStore({ client: io, logger: false, timeout: "5s" });
  const decisions: Promise<{ allowed: boolean }>[] = [];
  for (let i = 0; i < 100; i++) {
    decisions.push(
      createLimiter({ store, prefix: `f${process.pid}`, policies: `${i + 1}/s` }).consume("k"),
    );
  }
  gc();
  const answered = await Promise.all(decisions);
  expect(answered.every((d) => d.allowed)).toBe(true);
  expect(store.stats.degraded).toBe(0);
  await settle();
  expect((store as unknown as Counts).bindingCount).toBe(0);
});
