/**
 * Late runs (issue 13, item 8): a call sent to a stalled Redis (SIGSTOP) times out and its
 * decision is answered per onStoreError; when Redis wakes it still holds the command. The script
 * must then do nothing: a decision the caller was told is rejected (fail-closed) or that the
 * fallback answered must not also be charged in Redis, and a refund, reset or block that
 * rejected with a timeout must not happen behind the caller's back.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Decision } from "../../src/core/decision.js";
import { createLimiter } from "../../src/core/limiter.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";

const TIMEOUT_MS = 200;
const STALL_MS = 1500;
const LIMIT = 100;

let server: RedisNode;

beforeAll(async () => {
  server = await startRedis();
});

afterAll(async () => {
  await server?.stop();
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stops the server for STALL_MS while `during` runs, then resumes it, whatever happens. */
async function stalled<T>(during: () => Promise<T>): Promise<T> {
  const pid = server.pid()!;
  const stoppedAt = performance.now();
  process.kill(pid, "SIGSTOP");
  try {
    const result = await during();
    const left = STALL_MS - (performance.now() - stoppedAt);
    if (left > 0) await pause(left);
    return result;
  } finally {
    process.kill(pid, "SIGCONT");
  }
}

/** Every key of a prefix with its raw record length (0: none). */
async function records(prefix: string): Promise<string[]> {
  const out = await server.cli("--scan", "--pattern", `${prefix}:*`);
  return out.split("\n").filter((line) => line !== "");
}

describe("a call Redis runs after its deadline does nothing", () => {
  for (const mode of ["fail-closed", "fallback"] as const) {
    it(`onStoreError "${mode}": 50 consumes during a stall are never charged in Redis`, async () => {
      const client = new Redis(server.port, server.host);
      client.on("error", () => {});
      try {
        const store = redisStore({
          client,
          timeout: TIMEOUT_MS,
          onStoreError: mode,
          // Every call goes to Redis (none is held back by an open circuit or the cache): the
          // most commands a stall can leave queued.
          circuitBreaker: false,
          localCache: false,
          logger: false,
        });
        const prefix = `late-${mode}-${process.pid}`;
        const limiter = createLimiter({
          policies: { limit: LIMIT, window: "1h", algorithm: "fixed-window" },
          store,
          prefix,
        });
        // Healthy first (and the clock offset learnt), as in a running service.
        expect((await limiter.consume("warm")).reason).toBe("ok");
        const decisions = await stalled(async () => {
          const all: Decision[] = [];
          // Five waves of ten: five calls queued in the stalled server's socket.
          for (let wave = 0; wave < 5; wave++) {
            all.push(
              ...(await Promise.all(Array.from({ length: 10 }, () => limiter.consume("victim")))),
            );
          }
          return all;
        });
        expect(decisions.map((d) => d.reason)).toEqual(Array(50).fill("degraded"));
        if (mode === "fail-closed") {
          expect(decisions.every((d) => !d.allowed)).toBe(true);
        } else {
          // The fallback counted them locally, once each.
          expect(decisions.every((d) => d.allowed)).toBe(true);
          expect(Math.min(...decisions.map((d) => d.remaining))).toBe(LIMIT - 50);
        }
        // Redis answers again; replies come in order on one connection, so by the time this
        // peek is answered every command queued during the stall has run.
        let after: Decision;
        const deadline = performance.now() + 10_000;
        do {
          after = await limiter.peek("victim");
          if (performance.now() > deadline) throw new Error("Redis did not come back");
        } while (after.reason === "degraded");
        expect(after.remaining).toBe(LIMIT);
        expect(await records(prefix)).toEqual([`${prefix}:{warm}:fw:${LIMIT}:3600000:${LIMIT}`]);
        // And the key is whole in Redis: exactly LIMIT more pass.
        const next = await Promise.all(
          Array.from({ length: LIMIT + 1 }, () => limiter.consume("victim")),
        );
        expect(next.filter((d) => d.allowed).length).toBe(LIMIT);
      } finally {
        client.disconnect();
      }
    }, 30_000);
  }

  it("refund, reset and block that time out during a stall are not applied later", async () => {
    const client = new Redis(server.port, server.host);
    client.on("error", () => {});
    try {
      const store = redisStore({
        client,
        timeout: TIMEOUT_MS,
        onStoreError: "fail-closed",
        circuitBreaker: false,
        localCache: false,
        logger: false,
      });
      const limiter = createLimiter({
        policies: { limit: 10, window: "1h", algorithm: "fixed-window" },
        store,
        prefix: `late-ops-${process.pid}`,
      });
      for (let i = 0; i < 4; i++) await limiter.consume("charged");
      await limiter.consume("reset-me");
      const outcomes = await stalled(() =>
        Promise.allSettled([
          limiter.refund("charged", 3),
          limiter.reset("reset-me"),
          limiter.block("blocked", 60_000),
        ]),
      );
      for (const o of outcomes) {
        expect(o.status).toBe("rejected");
        expect((o as PromiseRejectedResult).reason).toMatchObject({ code: "ERR_TK_STORE_TIMEOUT" });
      }
      let charged: Decision;
      do charged = await limiter.peek("charged");
      while (charged.reason === "degraded");
      expect(charged.remaining).toBe(6); // the refund did not happen
      expect((await limiter.peek("reset-me")).remaining).toBe(9); // nor the reset
      expect((await limiter.peek("blocked")).reason).toBe("ok"); // nor the block
    } finally {
      client.disconnect();
    }
  }, 30_000);
});
