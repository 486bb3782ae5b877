/**
 * waitFor on the Redis store, in real time (bounded: about a second per test): callers in two
 * "processes" (two clients, two stores, two limiters sharing one Redis) all get through, each
 * process's callers in order, never faster than the policy; and a fleet woken by one window
 * opening spreads its re-checks (jitter) instead of hitting Redis in the same millisecond.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Decision } from "../../src/core/decision.js";
import { createLimiter, type Limiter } from "../../src/core/limiter.js";
import type { PolicyInput } from "../../src/core/policy.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";

let node: RedisNode;
const clients: Redis[] = [];
let n = 0;

beforeAll(async () => {
  node = await startRedis();
});

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await node?.stop();
});

/** One "process": its own connection, store and limiter, on the shared Redis. */
function process_(policies: PolicyInput, prefix: string): Limiter {
  const client = new Redis(node.port, node.host);
  clients.push(client);
  return createLimiter({ policies, prefix, store: redisStore({ client }) });
}

describe("waitFor on Redis", () => {
  it("admits every waiter of two processes sharing a key, each process's in order, never faster than the policy", async () => {
    // 10 per second with a burst of 4: 4 at once, then one every 100 ms.
    const policy: PolicyInput = { limit: 4, window: "400ms", algorithm: "token-bucket" };
    const prefix = `wf${n++}`;
    const fleet = [process_(policy, prefix), process_(policy, prefix)];
    await fleet[0]!.consume("warm-up"); // connections and the script loaded before the clock starts
    const start = Date.now();
    const admitted: { who: string; at: number }[] = [];
    await Promise.all(
      fleet.flatMap((limiter, p) =>
        [0, 1, 2, 3, 4, 5].map((i) =>
          limiter.waitFor("vendor").then((d: Decision) => {
            expect(d.allowed).toBe(true);
            admitted.push({ who: `p${p}-${i}`, at: Date.now() - start });
          }),
        ),
      ),
    );
    expect(admitted).toHaveLength(12);
    for (const p of ["p0", "p1"]) {
      const mine = admitted.filter((a) => a.who.startsWith(p)).map((a) => a.who);
      expect(mine).toEqual([0, 1, 2, 3, 4, 5].map((i) => `${p}-${i}`));
    }
    // Within the rate: the k-th admission (k ≥ 4) cannot come before (k − 3) × 100 ms.
    admitted.forEach((a, k) => {
      if (k >= 4) expect(a.at).toBeGreaterThanOrEqual((k - 3) * 100 - 2);
    });
    // And waiting did not add a window on top: 12 units at this rate take about 800 ms.
    expect(admitted.at(-1)!.at).toBeLessThan(3000);
  });

  it("spreads the re-checks of processes woken by the same window opening (jitter), none early", async () => {
    const policy: PolicyInput = { limit: 20, window: "1s", algorithm: "fixed-window" };
    const prefix = `wf${n++}`;
    const fleet = Array.from({ length: 20 }, () => process_(policy, prefix));
    await Promise.all(fleet.map((l) => l.peek("warm-up")));
    await fleet[0]!.consume("window", { cost: 20 }); // full until the window ends
    // Each process records when its waiter asked Redis, and what Redis answered.
    const calls = fleet.map((limiter) => {
      const seen: { asked: number; answered: number; d: Decision }[] = [];
      const consume = limiter.consume.bind(limiter);
      limiter.consume = async (key, options) => {
        const asked = performance.now();
        const d = await consume(key, options);
        seen.push({ asked, answered: performance.now(), d });
        return d;
      };
      return seen;
    });
    const results = await Promise.all(fleet.map((limiter) => limiter.waitFor("window")));
    expect(results.every((d) => d.allowed)).toBe(true);
    const late = calls.map((seen) => {
      const [refused, recheck] = seen;
      expect(refused!.d.allowed).toBe(false);
      expect(recheck!.d.allowed).toBe(true); // one re-check each: no polling
      // How much later than the refusal's retryAfterMs the re-check went out.
      return recheck!.asked - (refused!.answered + refused!.d.retryAfterMs);
    });
    for (const ms of late) expect(ms).toBeGreaterThanOrEqual(-2); // never before the window opens
    // Up to 25 ms of jitter each (uniform): twenty re-checks spread over at least 10 ms (the odds
    // of less are below 1e-6); without jitter they land within 2 to 4 ms of one another.
    expect(Math.max(...late) - Math.min(...late)).toBeGreaterThanOrEqual(10);
  });
});
