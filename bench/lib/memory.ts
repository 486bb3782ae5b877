import { RateLimiterMemory } from "rate-limiter-flexible";
import { type AlgorithmName, createLimiter, memoryStore } from "../../src/index.js";
import { Buckets, NaiveCounter, WINDOW_MS } from "./contenders.js";
import { collect, makeKeys } from "./keys.js";

export const MEMORY_KEYS = 1_000_000;
const LIMIT = 1000;

export type MemoryFigures = {
  readonly id: string;
  readonly label: string;
  readonly keys: number;
  /** process.memoryUsage().heapUsed after minus before. */
  readonly heapBytes: number;
  /** process.memoryUsage().arrayBuffers after minus before (typed-array backing stores). */
  readonly arrayBufferBytes: number;
  readonly bytesPerKey: number;
};

type Subject = {
  readonly label: string;
  /** Inserts every key (one allowed call each) and returns the structure, to be retained. */
  build(keys: readonly string[]): Promise<unknown> | unknown;
};

function throttlekit(algorithm: AlgorithmName): Subject {
  return {
    label: `throttlekit memory store (${algorithm})`,
    build(keys) {
      const limiter = createLimiter({
        policies: { limit: LIMIT, window: WINDOW_MS, algorithm },
        store: memoryStore({ maxKeys: 2_000_000 }),
      });
      for (const k of keys)
        if (!limiter.consumeSync(k).allowed) throw new Error(`not allowed: ${k}`);
      return limiter;
    },
  };
}

export const MEMORY_SUBJECTS: Readonly<Record<string, Subject>> = {
  "tk-gcra": throttlekit("gcra"),
  "tk-token-bucket": throttlekit("token-bucket"),
  "tk-sliding-window": throttlekit("sliding-window"),
  "tk-fixed-window": throttlekit("fixed-window"),
  rlf: {
    label: "rate-limiter-flexible Memory",
    async build(keys) {
      const rlf = new RateLimiterMemory({ points: LIMIT, duration: WINDOW_MS / 1000 });
      for (const k of keys) await rlf.consume(k);
      return rlf;
    },
  },
  naive: {
    label: "naive Map counter",
    build(keys) {
      const counter = new NaiveCounter(LIMIT, WINDOW_MS);
      for (const k of keys) if (counter.consume(k) < 0) throw new Error(`not allowed: ${k}`);
      return counter;
    },
  },
  limiter: {
    label: "limiter TokenBucket per key",
    build(keys) {
      const buckets = new Buckets(LIMIT);
      for (const k of keys)
        if (!buckets.get(k).tryRemoveTokens(1)) throw new Error(`not allowed: ${k}`);
      return buckets;
    },
  },
};

/** Structures measured here stay reachable until after the second reading. */
const retained: unknown[] = [];

/**
 * Heap cost of 1 M keys in one structure: the keys are created before the first reading (so
 * their strings count for no one), then inserted, then both heaps are read after full GCs.
 */
export async function measureMemory(id: string): Promise<MemoryFigures> {
  const subject = MEMORY_SUBJECTS[id];
  if (subject === undefined) throw new Error(`unknown memory subject ${id}`);
  const keys = makeKeys(MEMORY_KEYS);
  collect();
  const before = process.memoryUsage();
  retained.push(await subject.build(keys));
  collect();
  const after = process.memoryUsage();
  const heapBytes = after.heapUsed - before.heapUsed;
  const arrayBufferBytes = after.arrayBuffers - before.arrayBuffers;
  if (retained.length === 0 || keys.length !== MEMORY_KEYS) throw new Error("unreachable");
  return {
    id,
    label: subject.label,
    keys: MEMORY_KEYS,
    heapBytes,
    arrayBufferBytes,
    bytesPerKey: Math.round(((heapBytes + arrayBufferBytes) / MEMORY_KEYS) * 10) / 10,
  };
}
