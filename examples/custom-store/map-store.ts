/**
 * A complete third-party store, built only on throttlekit/store: limiter state in a plain
 * Map of JSON-friendly arrays, the shape a store keeps in a database row or a KV value.
 * Every decision is one read-modify-write of one entry, which is what makes it atomic here
 * (single-threaded JavaScript); a remote store must make that step atomic on its side
 * (a transaction, a compare-and-set, a script). It passes `storeConformance` from
 * throttlekit/testing (test/store-kit.test.ts), the suite the memory and Redis stores pass,
 * escalating `blockFor` included.
 *
 * Run it: `npx tsx examples/custom-store/map-store.ts`
 */
import {
  type Algorithm,
  algorithms,
  combine,
  type Decision,
  nextBlockMs,
  type Policy,
  pureStep,
  type Store,
  type StoreBinding,
  type Verdict,
  verdictFree,
} from "throttlekit/store";

/**
 * One user key of one limiter: every policy's state, the end of its block (0: none), and per
 * escalating policy its last block: the length `nextBlockMs` gave (unrounded, so a factor like
 * 1.5 compounds exactly as in the memory and Redis stores) and when it is forgotten.
 */
type Entry = {
  states: (number[] | undefined)[];
  blockedUntil: number;
  lastBlocks: ([last: number, until: number] | undefined)[];
};

/** The store: one Map for everything, namespaced by limiter prefix and policies. */
export function mapStore(): Store {
  const data = new Map<string, Entry>();
  return {
    name: "map",
    bind(namespace: string, policies: readonly Policy[]): StoreBinding {
      const prefix = `${namespace}\u0000${policies.map((p) => p.id).join("+")}\u0000`;
      return new MapBinding(data, prefix, policies);
    },
  };
}

class MapBinding implements StoreBinding {
  constructor(
    private readonly data: Map<string, Entry>,
    private readonly prefix: string,
    private readonly policies: readonly Policy[],
  ) {}

  async consume(key: string, cost: number, now: number | undefined): Promise<Decision> {
    const t = now ?? Date.now();
    const id = this.prefix + key;
    const entry = this.data.get(id) ?? { states: [], blockedUntil: 0, lastBlocks: [] };
    if (entry.blockedUntil > t) {
      return verdictFree(this.policies, "blocked", false, entry.blockedUntil - t);
    }
    const steps = this.policies.map((p, i) => pureStep(alg(p), entry.states[i], t, cost, p));
    if (steps.every((s) => s.decision.allowed)) {
      if (cost > 0) {
        // The row of blocks outlives the block: it is what makes the next one longer.
        this.data.set(id, { ...entry, states: steps.map((s) => s.state), blockedUntil: 0 });
      }
      return combine(
        this.policies,
        steps.map((s) => ({ ...s.decision })),
      );
    }
    // All-or-nothing: a rejection charges no policy. Policies that passed are restated as
    // they stand (cost 0); one that rejects with a blockFor starts the penalty box, and its
    // wait is the block's when that is longer (the earliest time the request can pass).
    // An escalating policy's block follows its last one (nextBlockMs), rounded up to whole ms.
    let blockedUntil = entry.blockedUntil;
    const started: [i: number, next: number, forgetAfterMs: number][] = [];
    const verdicts = this.policies.map((p, i): Verdict => {
      const step = steps[i]!;
      if (step.decision.allowed) return { ...pureStep(alg(p), entry.states[i], t, 0, p).decision };
      const v: Verdict = { ...step.decision };
      if (p.blockForMs > 0 && v.retryAfterMs !== Number.POSITIVE_INFINITY) {
        let ms = p.blockForMs;
        if (p.escalation !== undefined) {
          const [last, until] = entry.lastBlocks[i] ?? [0, 0];
          const next = nextBlockMs(last, until, t, p, p.escalation);
          started.push([i, next, p.escalation.forgetAfterMs]);
          ms = Math.ceil(next);
        }
        blockedUntil = Math.max(blockedUntil, t + ms);
        v.retryAfterMs = Math.max(v.retryAfterMs, ms);
        v.resetMs = Math.max(v.resetMs, v.retryAfterMs);
      }
      return v;
    });
    if (blockedUntil !== entry.blockedUntil) {
      // Each block started is remembered until forgetAfter past the key's block end (the
      // longest one started now), not its own: the key cannot offend again before that, so
      // forgetAfter measures clean time (fail2ban's bantime.increment; the memory store's rule).
      const lastBlocks = [...entry.lastBlocks];
      for (const [i, next, forgetAfterMs] of started) {
        lastBlocks[i] = [next, blockedUntil + forgetAfterMs];
      }
      this.data.set(id, { ...entry, blockedUntil, lastBlocks });
    }
    return combine(this.policies, verdicts);
  }

  async peek(key: string, cost: number, now: number | undefined): Promise<Decision> {
    const t = now ?? Date.now();
    const entry = this.data.get(this.prefix + key);
    if (entry !== undefined && entry.blockedUntil > t) {
      return verdictFree(this.policies, "blocked", false, entry.blockedUntil - t);
    }
    const verdicts = this.policies.map((p, i): Verdict => {
      const state = entry?.states[i];
      const asked = pureStep(alg(p), state, t, cost, p).decision;
      const standing = pureStep(alg(p), state, t, 0, p).decision;
      // The verdict for `cost`, with remaining and reset as they stand (nothing charged).
      return { ...standing, allowed: asked.allowed, retryAfterMs: asked.retryAfterMs };
    });
    return combine(this.policies, verdicts);
  }

  async refund(key: string, amount: number, now: number | undefined): Promise<void> {
    const entry = this.data.get(this.prefix + key);
    if (entry === undefined) return;
    const t = now ?? Date.now();
    entry.states = this.policies.map((p, i) => {
      const state = entry.states[i];
      if (state === undefined) return undefined;
      const a = alg(p);
      if (a.width === 0) {
        const log = [...state];
        (a as Algorithm<number[]>).refund(log, 0, t, amount, p);
        return log;
      }
      const row = Float64Array.from(state);
      (a as Algorithm<Float64Array>).refund(row, 0, t, amount, p);
      return Array.from(row);
    });
  }

  /** Forgets everything, the row of blocks included: the next block starts at base. */
  async reset(key: string): Promise<void> {
    this.data.delete(this.prefix + key);
  }

  async block(key: string, ms: number, now: number | undefined): Promise<void> {
    const t = now ?? Date.now();
    const id = this.prefix + key;
    const entry = this.data.get(id) ?? { states: [], blockedUntil: 0, lastBlocks: [] };
    this.data.set(id, { ...entry, blockedUntil: Math.max(entry.blockedUntil, t + ms) });
  }

  /** Lifts the block but keeps the row of blocks, as the memory and Redis stores do. */
  async unblock(key: string): Promise<void> {
    const entry = this.data.get(this.prefix + key);
    if (entry !== undefined) entry.blockedUntil = 0;
  }
}

function alg(p: Policy): Algorithm<Float64Array> | Algorithm<number[]> {
  return algorithms[p.algorithm] as Algorithm<Float64Array> | Algorithm<number[]>;
}

// Run directly: three requests against "2/s" on this store.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { createLimiter } = await import("throttlekit");
  const limiter = createLimiter({ policies: "2/s", store: mapStore() });
  for (let i = 1; i <= 3; i++) {
    const d = await limiter.consume("user:1");
    console.log(
      `request ${i}: ${d.allowed ? "allowed" : `limited, retry in ${d.retryAfterMs} ms`}`,
    );
  }
}
