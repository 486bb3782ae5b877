import { TokenBucket } from "limiter";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { type AlgorithmName, createLimiter, type Limiter, memoryStore } from "../../src/index.js";

export type Traffic = "allowed" | "rejected";

/** What one timed run saw. Every result feeds `sum`, so no call can be optimised away. */
export type Tally = { allowed: number; rejected: number; sum: number };

export type Contender = {
  readonly id: string;
  readonly label: string;
  /** The call being timed, for the results file. */
  readonly api: string;
  readonly mode: "async" | "sync";
  /** One charged call per key before timing: every key exists (and is over its limit when rejected). */
  prime(keys: readonly string[]): Promise<void> | void;
  /**
   * Calls `order[(from + j) % order.length]` for j < n. Sync contenders: a plain loop. Async:
   * `inflight` loops, each awaiting its next call, until n calls are made. Every contender writes
   * its own loop on purpose: a shared loop taking a callback would add a call per iteration and
   * make its call site megamorphic across contenders, which is what the bench must not measure.
   */
  run(order: readonly string[], from: number, n: number, inflight: number): Promise<Tally> | Tally;
};

/** Allowed traffic never reaches this; rejected traffic is 1 per hour, pre-consumed. */
export const HIGH_LIMIT = 1_000_000_000;
export const WINDOW_MS = 3_600_000;

export function limitFor(traffic: Traffic): number {
  return traffic === "allowed" ? HIGH_LIMIT : 1;
}

function tally(): Tally {
  return { allowed: 0, rejected: 0, sum: 0 };
}

function primeFailed(id: string, key: string): Error {
  return new Error(`${id}: priming ${key} was not allowed`);
}

/** throttlekit `createLimiter` on the memory store; `algorithm` undefined = the default. */
function tkLimiter(traffic: Traffic, algorithm: AlgorithmName | undefined): Limiter {
  const policy = { limit: limitFor(traffic), window: WINDOW_MS };
  return createLimiter({
    policies: algorithm === undefined ? policy : { ...policy, algorithm },
    store: memoryStore(),
  });
}

export function throttlekitAsync(traffic: Traffic, algorithm?: AlgorithmName): Contender {
  const limiter = tkLimiter(traffic, algorithm);
  const alg = algorithm ?? "sliding-window";
  return {
    id: `tk-async${algorithm === undefined ? "" : `-${alg}`}`,
    label: `throttlekit consume (${alg})`,
    api: "await limiter.consume(key)",
    mode: "async",
    prime(keys) {
      for (const k of keys) if (!limiter.consumeSync(k).allowed) throw primeFailed(this.id, k);
    },
    async run(order, from, n, inflight) {
      const t = tally();
      const len = order.length;
      let next = 0;
      const loop = async (): Promise<void> => {
        for (let j = next++; j < n; j = next++) {
          const d = await limiter.consume(order[(from + j) % len]!);
          if (d.allowed) t.allowed++;
          else t.rejected++;
          t.sum += d.remaining;
        }
      };
      const loops: Promise<void>[] = [];
      for (let i = 0; i < inflight; i++) loops.push(loop());
      await Promise.all(loops);
      return t;
    },
  };
}

export function throttlekitSync(traffic: Traffic, algorithm?: AlgorithmName): Contender {
  const limiter = tkLimiter(traffic, algorithm);
  const alg = algorithm ?? "sliding-window";
  return {
    id: `tk-sync${algorithm === undefined ? "" : `-${alg}`}`,
    label: `throttlekit consumeSync (${alg})`,
    api: "limiter.consumeSync(key)",
    mode: "sync",
    prime(keys) {
      for (const k of keys) if (!limiter.consumeSync(k).allowed) throw primeFailed(this.id, k);
    },
    run(order, from, n) {
      const t = tally();
      const len = order.length;
      for (let j = 0; j < n; j++) {
        const d = limiter.consumeSync(order[(from + j) % len]!);
        if (d.allowed) t.allowed++;
        else t.rejected++;
        t.sum += d.remaining;
      }
      return t;
    },
  };
}

export function rlfAsync(traffic: Traffic): Contender {
  const rlf = new RateLimiterMemory({ points: limitFor(traffic), duration: WINDOW_MS / 1000 });
  return {
    id: "rlf",
    label: "rate-limiter-flexible Memory",
    api: "await rlf.consume(key) (rejection = rejected promise, caught)",
    mode: "async",
    async prime(keys) {
      for (const k of keys) await rlf.consume(k);
    },
    async run(order, from, n, inflight) {
      const t = tally();
      const len = order.length;
      let next = 0;
      const loop = async (): Promise<void> => {
        for (let j = next++; j < n; j = next++) {
          try {
            const r = await rlf.consume(order[(from + j) % len]!);
            t.allowed++;
            t.sum += r.remainingPoints;
          } catch (error) {
            if (!(error instanceof RateLimiterRes)) throw error;
            t.rejected++;
            t.sum += error.remainingPoints;
          }
        }
      };
      const loops: Promise<void>[] = [];
      for (let i = 0; i < inflight; i++) loops.push(loop());
      await Promise.all(loops);
      return t;
    },
  };
}

/** `limiter` v3 has no keyed store: one TokenBucket per key in a Map, created full. */
export class Buckets {
  private readonly map = new Map<string, TokenBucket>();
  constructor(private readonly size: number) {}

  get(key: string): TokenBucket {
    let b = this.map.get(key);
    if (b === undefined) {
      b = new TokenBucket({
        bucketSize: this.size,
        tokensPerInterval: this.size,
        interval: "hour",
      });
      b.content = this.size; // a new TokenBucket starts empty; a new key must start full
      this.map.set(key, b);
    }
    return b;
  }
}

export function limiterAsync(traffic: Traffic): Contender {
  const buckets = new Buckets(limitFor(traffic));
  const prime = (keys: readonly string[]): void => {
    for (const k of keys) if (!buckets.get(k).tryRemoveTokens(1)) throw primeFailed("limiter", k);
  };
  if (traffic === "rejected") {
    // removeTokens never says no: it waits until tokens drip in (here, an hour). The only
    // immediate answer the package gives is tryRemoveTokens, so it is timed behind a promise.
    return {
      id: "limiter-async",
      label: "limiter TokenBucket (async)",
      api: "await Promise.resolve(bucket.tryRemoveTokens(1))",
      mode: "async",
      prime,
      async run(order, from, n, inflight) {
        const t = tally();
        const len = order.length;
        let next = 0;
        const loop = async (): Promise<void> => {
          for (let j = next++; j < n; j = next++) {
            const b = buckets.get(order[(from + j) % len]!);
            const ok = await Promise.resolve(b.tryRemoveTokens(1));
            if (ok) t.allowed++;
            else t.rejected++;
            t.sum += b.content;
          }
        };
        const loops: Promise<void>[] = [];
        for (let i = 0; i < inflight; i++) loops.push(loop());
        await Promise.all(loops);
        return t;
      },
    };
  }
  return {
    id: "limiter-async",
    label: "limiter TokenBucket (async)",
    api: "await bucket.removeTokens(1)",
    mode: "async",
    prime,
    async run(order, from, n, inflight) {
      const t = tally();
      const len = order.length;
      let next = 0;
      const loop = async (): Promise<void> => {
        for (let j = next++; j < n; j = next++) {
          t.sum += await buckets.get(order[(from + j) % len]!).removeTokens(1);
          t.allowed++; // removeTokens resolves only once the tokens are taken
        }
      };
      const loops: Promise<void>[] = [];
      for (let i = 0; i < inflight; i++) loops.push(loop());
      await Promise.all(loops);
      return t;
    },
  };
}

export function limiterSync(traffic: Traffic): Contender {
  const buckets = new Buckets(limitFor(traffic));
  return {
    id: "limiter-sync",
    label: "limiter TokenBucket (sync)",
    api: "bucket.tryRemoveTokens(1)",
    mode: "sync",
    prime(keys) {
      for (const k of keys) if (!buckets.get(k).tryRemoveTokens(1)) throw primeFailed(this.id, k);
    },
    run(order, from, n) {
      const t = tally();
      const len = order.length;
      for (let j = 0; j < n; j++) {
        const b = buckets.get(order[(from + j) % len]!);
        if (b.tryRemoveTokens(1)) t.allowed++;
        else t.rejected++;
        t.sum += b.content;
      }
      return t;
    },
  };
}

type Counter = { count: number; resetAt: number };

/** The baseline: a fixed-window counter in a plain Map, with nothing else. */
export class NaiveCounter {
  readonly map = new Map<string, Counter>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Remaining after this call, or -1 when rejected. */
  consume(key: string): number {
    const now = Date.now();
    let e = this.map.get(key);
    if (e === undefined) {
      e = { count: 0, resetAt: now + this.windowMs };
      this.map.set(key, e);
    } else if (e.resetAt <= now) {
      e.count = 0;
      e.resetAt = now + this.windowMs;
    }
    if (e.count >= this.limit) return -1;
    e.count++;
    return this.limit - e.count;
  }
}

export function naiveAsync(traffic: Traffic): Contender {
  const counter = new NaiveCounter(limitFor(traffic), WINDOW_MS);
  return {
    id: "naive-async",
    label: "naive Map counter (async)",
    api: "await Promise.resolve(counter.consume(key))",
    mode: "async",
    prime(keys) {
      for (const k of keys) if (counter.consume(k) < 0) throw primeFailed(this.id, k);
    },
    async run(order, from, n, inflight) {
      const t = tally();
      const len = order.length;
      let next = 0;
      const loop = async (): Promise<void> => {
        for (let j = next++; j < n; j = next++) {
          const r = await Promise.resolve(counter.consume(order[(from + j) % len]!));
          if (r >= 0) {
            t.allowed++;
            t.sum += r;
          } else t.rejected++;
        }
      };
      const loops: Promise<void>[] = [];
      for (let i = 0; i < inflight; i++) loops.push(loop());
      await Promise.all(loops);
      return t;
    },
  };
}

export function naiveSync(traffic: Traffic): Contender {
  const counter = new NaiveCounter(limitFor(traffic), WINDOW_MS);
  return {
    id: "naive-sync",
    label: "naive Map counter (sync)",
    api: "counter.consume(key)",
    mode: "sync",
    prime(keys) {
      for (const k of keys) if (counter.consume(k) < 0) throw primeFailed(this.id, k);
    },
    run(order, from, n) {
      const t = tally();
      const len = order.length;
      for (let j = 0; j < n; j++) {
        const r = counter.consume(order[(from + j) % len]!);
        if (r >= 0) {
          t.allowed++;
          t.sum += r;
        } else t.rejected++;
      }
      return t;
    },
  };
}
