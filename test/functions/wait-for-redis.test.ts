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
import type { Timers } from "../../src/core/timers.js";
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
function process_(policies: PolicyInput, prefix: string, timers?: Timers): Limiter {
  const client = new Redis(node.port, node.host);
  clients.push(client);
  return createLimiter({
    policies,
    prefix,
    store: redisStore({ client }),
    ...(timers === undefined ? {} : { timers }),
  });
}

/** The host's timers, noting every delay asked for (the sleep waitFor chose, jitter included). */
function noting(): { timers: Timers; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    timers: {
      setTimeout: (callback, ms) => {
        delays.push(ms);
        return setTimeout(callback, ms);
      },
      clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    },
  };
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
    const fleet = Array.from({ length: 20 }, () => {
      const { timers, delays } = noting();
      return { limiter: process_(policy, prefix, timers), delays };
    });
    await Promise.all(fleet.map((p) => p.limiter.peek("warm-up")));
    await fleet[0]!.limiter.consume("window", { cost: 20 }); // full until the window ends
    // Each process records when its waiter asked Redis, and what Redis answered.
    const calls = fleet.map(({ limiter }) => {
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
    const results = await Promise.all(fleet.map((p) => p.limiter.waitFor("window")));
    expect(results.every((d) => d.allowed)).toBe(true);
    const jitters = calls.map((seen, i) => {
      const [refused, recheck] = seen;
      expect(seen).toHaveLength(2); // one re-check each, admitted: no polling
      expect(refused!.d.allowed).toBe(false);
      expect(recheck!.d.allowed).toBe(true);
      // Never before the window opens: not earlier than the refusal's retryAfterMs.
      expect(recheck!.asked - (refused!.answered + refused!.d.retryAfterMs)).toBeGreaterThanOrEqual(
        -2,
      );
      // The sleep chosen on the refusal: retryAfterMs plus this process's jitter. (A host timer
      // may fire a little early, its loop time being cached: waitFor then sleeps the rest.)
      return fleet[i]!.delays[0]! - Math.ceil(refused!.d.retryAfterMs);
    });
    for (const ms of jitters) {
      expect(ms).toBeGreaterThanOrEqual(-1e-6);
      expect(ms).toBeLessThanOrEqual(25 + 1e-6);
    }
    // Uniform over 0..25 ms: twenty processes spread over at least 10 ms (the odds of less are
    // below 1e-6); without jitter every one of them would be 0.
    expect(Math.max(...jitters) - Math.min(...jitters)).toBeGreaterThanOrEqual(10);
  });
});
