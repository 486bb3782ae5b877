/**
 * Escalation and bans on real redis-server processes (a single node and a 3-master cluster):
 * where the state lives (one record per key, its PX the remembered span, every key of a client
 * under its hash tag) and a ban that starts once however many refusals race it.
 */
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AutoBlockEvent } from "../../src/core/events.js";
import { createLimiter } from "../../src/core/limiter.js";
import type { Store } from "../../src/core/store.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import {
  type RedisCluster,
  type RedisNode,
  startCluster,
  startRedis,
} from "../support/redis-server.js";

const MIN = 60_000;
const DAY = 86_400_000;
const ONE_PER_MINUTE = { limit: 1, window: "1m", algorithm: "fixed-window" } as const;

let node: RedisNode;
let cluster: RedisCluster;
let client: Redis;
let clusterClient: Cluster;
let run = 0;

beforeAll(async () => {
  [node, cluster] = await Promise.all([startRedis(), startCluster()]);
  client = new Redis(node.port, node.host);
  clusterClient = new Cluster([...cluster.seeds]);
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  clusterClient?.disconnect();
  await Promise.all([node?.stop(), cluster?.stop()]);
});

const prefix = () => `pen${process.pid}-${run++}`;

describe("escalation state in Redis", () => {
  it("lives in the key's record, under its hash tag, for the remembered span (server time)", async () => {
    const p = prefix();
    const limiter = createLimiter({
      policies: { ...ONE_PER_MINUTE, blockFor: { base: "1m", forgetAfter: "1h" } },
      store: redisStore({ client, localCache: false }),
      prefix: p,
      logger: false,
    });
    await limiter.consume("client");
    expect((await limiter.consume("client")).retryAfterMs).toBe(MIN);
    const keys = await client.keys(`${p}*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(new RegExp(`^${p}:\\{client\\}:`));
    // Remembered until forgetAfter past the block's end: 1m + 1h from now, and no longer.
    const ttl = await client.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(MIN + 3_600_000 - 5000);
    expect(ttl).toBeLessThanOrEqual(MIN + 3_600_000);
  });

  it("escalates on a 3-master cluster as on one node", async () => {
    for (const store of [
      redisStore({ client }),
      redisStore({ client: clusterClient }),
    ] satisfies Store[]) {
      const clock = manualClock();
      const limiter = createLimiter({
        policies: { ...ONE_PER_MINUTE, blockFor: { base: "1m", factor: 3, max: "30m" } },
        store,
        prefix: prefix(),
        clock: clock.now,
      });
      const waits: number[] = [];
      for (let i = 0; i < 5; i++) {
        await limiter.consume("{client}:x");
        const d = await limiter.consume("{client}:x");
        waits.push(d.retryAfterMs);
        clock.advance(d.retryAfterMs);
      }
      expect(waits.map((w) => w / MIN)).toEqual([1, 3, 9, 27, 30]);
    }
  });
});

describe("ban on Redis", () => {
  const BAN = { after: 3, within: "1h", duration: "1d" } as const;

  for (const where of ["single node", "cluster"] as const) {
    it(`${where}: the third refusal bans, told so; later ones are blocked`, async () => {
      const clock = manualClock();
      const bans: AutoBlockEvent[] = [];
      const limiter = createLimiter({
        policies: ONE_PER_MINUTE,
        ban: BAN,
        store: redisStore({ client: where === "cluster" ? clusterClient : client }),
        prefix: prefix(),
        clock: clock.now,
        logger: false,
      });
      limiter.on("autoBlock", (e) => bans.push(e));
      await limiter.consume("k");
      const answers = [];
      for (let i = 0; i < 5; i++) {
        const d = await limiter.consume("k");
        answers.push([d.reason, d.retryAfterMs]);
      }
      expect(answers).toEqual([
        ["limited", MIN],
        ["limited", MIN],
        ["limited", DAY],
        ["blocked", DAY],
        ["blocked", DAY],
      ]);
      expect(bans).toHaveLength(1);
    });
  }

  it("twenty refusals racing through two clients start one ban", async () => {
    const clock = manualClock();
    const p = prefix();
    const bans: AutoBlockEvent[] = [];
    const second = new Redis(node.port, node.host);
    const limiters = [client, second].map((c) => {
      const limiter = createLimiter({
        policies: ONE_PER_MINUTE,
        ban: BAN,
        store: redisStore({ client: c, localCache: false }),
        prefix: p,
        clock: clock.now,
        logger: false,
      });
      limiter.on("autoBlock", (e) => bans.push(e));
      return limiter;
    });
    await limiters[0]!.consume("k");
    const racing = await Promise.all(
      Array.from({ length: 20 }, (_, i) => limiters[i % 2]!.consume("k")),
    );
    second.disconnect();
    expect(racing.every((d) => !d.allowed)).toBe(true);
    // One refusal starts the ban (limited, told the ban's day); refusals that reach Redis after
    // its block are "blocked" with the same day, how many depends on the interleaving.
    const starters = racing.filter((d) => d.reason === "limited" && d.retryAfterMs === DAY);
    expect(starters).toHaveLength(1);
    expect(racing.every((d) => d.reason === "limited" || d.retryAfterMs === DAY)).toBe(true);
    expect(bans).toHaveLength(1);
    expect((await limiters[0]!.consume("k")).reason).toBe("blocked");
  });
});
