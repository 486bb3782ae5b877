import { algorithms } from "./algorithms/index.js";
import { judge } from "./algorithms/step.js";
import {
  type Algorithm,
  emptyVerdict,
  type RowAlgorithm,
  type Verdict,
} from "./algorithms/types.js";
import { wallNow } from "./clock.js";
import { combine, type Decision, verdictFree } from "./decision.js";
import { ProblemList } from "./errors/config-error.js";
import { memoryLists } from "./memory-list-store.js";
import type { Policy } from "./policy.js";
import type { Store, StoreBinding } from "./store.js";

export type MemoryStoreOptions = {
  /**
   * Most keys (counters plus blocks) held at once, across every limiter sharing this store.
   * A new key beyond it evicts an expired or at-rest key first, else one that is not limited;
   * a limited or blocked key is never evicted (a key flood must not reset an attacker's count).
   * @default 1_000_000
   */
  maxKeys?: number;
  /**
   * What a new key gets when the store is full and every key in it is limited or blocked:
   * "reject" answers `allowed: false, reason: "degraded"`; "allow" admits it untracked.
   * @default "reject"
   */
  whenFull?: "reject" | "allow";
};

const DEFAULT_MAX_KEYS = 1_000_000;
/** Every 64th call sweeps a few keys: expiry costs O(1) per call and needs no timer. */
const SWEEP_EVERY_MASK = 63;
const SWEEP_BATCH = 32;
/** Keys examined to find an eviction victim before the store counts as full. */
const EVICT_SCAN = 64;
const INITIAL_ROWS = 1024;
const EMPTY_LOG: number[] = [];

/**
 * The embedded store: state in typed-array rows indexed by a Map, no timer per key, lazy
 * expiry with a bounded incremental sweep, a `maxKeys` bound, and a synchronous path.
 *
 * @example
 * const limiter = createLimiter({ policies: "100/min", store: memoryStore({ maxKeys: 50_000 }) });
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const problems = new ProblemList();
  for (const key of Object.keys(options)) {
    if (key !== "maxKeys" && key !== "whenFull") {
      problems.add(
        `memoryStore.${key}`,
        (options as Record<string, unknown>)[key],
        "maxKeys or whenFull",
      );
    }
  }
  const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
    problems.add("memoryStore.maxKeys", options.maxKeys, "a whole number ≥ 1");
  }
  const whenFull = options.whenFull ?? "reject";
  if (whenFull !== "reject" && whenFull !== "allow") {
    problems.add("memoryStore.whenFull", options.whenFull, '"reject" or "allow"');
  }
  problems.throwIfAny();
  return new InMemoryStore(maxKeys, whenFull);
}

/** The memory store, with its live key count for monitoring. */
export interface MemoryStore extends Store {
  /** Keys held now (counters plus blocks, across limiters): what `maxKeys` bounds. */
  readonly size: number;
  readonly maxKeys: number;
}

class InMemoryStore implements MemoryStore {
  readonly name = "memory";
  /** Allow and deny lists, shared by every limiter (and HTTP limiter) using this store. */
  readonly lists = memoryLists();
  size = 0;
  private readonly bindings = new Map<string, MemoryBinding>();

  constructor(
    readonly maxKeys: number,
    readonly whenFull: "reject" | "allow",
  ) {}

  bind(namespace: string, policies: readonly Policy[]): StoreBinding {
    // Limiters with the same prefix and policies share state, as they would in Redis.
    const id = `${namespace}\u0000${policies.map((p) => p.id).join("\u0000")}`;
    let binding = this.bindings.get(id);
    if (binding === undefined) {
      binding = new MemoryBinding(this, policies);
      this.bindings.set(id, binding);
    }
    return binding;
  }

  /** Frees one slot for `asking`, preferring its own keys. */
  makeRoom(now: number, asking: MemoryBinding): boolean {
    if (asking.evictOne(now)) return true;
    for (const b of this.bindings.values()) if (b !== asking && b.evictOne(now)) return true;
    return false;
  }

  async close(): Promise<void> {
    this.bindings.clear();
    this.size = 0;
  }
}

class MemoryBinding implements StoreBinding {
  private readonly index = new Map<string, number>();
  private readonly blocks = new Map<string, number>();
  private readonly algs: Algorithm<Float64Array | number[]>[];
  /** Offset of each policy's state in a row; -1 for a log policy. */
  private readonly offsets: number[];
  /** Per policy, a log per row (only for log policies). */
  private readonly logs: (number[] | undefined)[][];
  private readonly width: number;
  private readonly verdicts: Verdict[];
  private readonly probe = emptyVerdict();
  private slab: Float64Array;
  /** Row 0 is never written: all zeros, it is the fresh state every unseen key reads. */
  private nextRow = 1;
  private readonly free: number[] = [];
  private ops = 0;
  /** The key held in each row (undefined when free): sweeps walk rows, allocating nothing. */
  private readonly keyOfRow: (string | undefined)[] = [undefined];
  private sweepRow = 1;
  private evictRow = 1;
  private blockIter: Iterator<[string, number]> | undefined;
  /** Earliest wait seen among protected keys in the last failed eviction scan. */
  private fullRetryMs = 0;
  /**
   * The sweep reclaims a key only after it has been at rest this long (the longest window):
   * a bucket key under steady traffic is at rest between hits, and freeing and re-creating it
   * on every hit would be churn. Eviction under maxKeys pressure takes at-rest keys at once.
   */
  private readonly sweepGraceMs: number;
  /** Set when the binding has exactly one fixed-width policy: the fast path. */
  private readonly solo: RowAlgorithm | undefined;

  constructor(
    private readonly store: InMemoryStore,
    private readonly policies: readonly Policy[],
  ) {
    this.algs = policies.map((p) => algorithms[p.algorithm] as Algorithm<Float64Array | number[]>);
    let width = 0;
    this.offsets = this.algs.map((a) => {
      if (a.width === 0) return -1;
      width += a.width;
      return width - a.width;
    });
    this.width = width;
    this.logs = policies.map(() => []);
    this.verdicts = policies.map(() => emptyVerdict());
    this.sweepGraceMs = Math.max(...policies.map((p) => p.windowMs));
    const only = this.algs[0]!;
    this.solo = policies.length === 1 && only.width > 0 ? (only as RowAlgorithm) : undefined;
    this.slab = new Float64Array(INITIAL_ROWS * Math.max(1, width));
  }

  consume(key: string, cost: number, now: number | undefined): Promise<Decision> {
    try {
      return Promise.resolve(this.consumeSync(key, cost, now));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  peek(key: string, cost: number, now: number | undefined): Promise<Decision> {
    try {
      return Promise.resolve(this.peekSync(key, cost, now));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  consumeSync(key: string, cost: number, now: number | undefined): Decision {
    const t = now ?? wallNow();
    if ((++this.ops & SWEEP_EVERY_MASK) === 0) this.sweep(t);
    if (this.blocks.size !== 0) {
      const blocked = this.blockedDecision(key, t);
      if (blocked !== undefined) return blocked;
    }
    let row = this.index.get(key);
    if (this.solo !== undefined) return this.consumeSolo(this.solo, key, row, cost, t);
    const r = row ?? 0;
    const n = this.policies.length;
    let allowed = true;
    for (let i = 0; i < n; i++) {
      this.judgeAt(i, r, t, cost, this.verdicts[i]!);
      allowed &&= this.verdicts[i]!.allowed;
    }
    if (allowed) {
      if (cost > 0) {
        if (row === undefined) {
          row = this.allocate(key, t);
          if (row < 0) return this.fullDecision();
        }
        for (let i = 0; i < n; i++) this.commitAt(i, row, t, cost);
      }
      return combine(this.policies, this.verdicts);
    }
    let blockFor = 0;
    for (let i = 0; i < n; i++) {
      const v = this.verdicts[i]!;
      // A policy that passed was not charged: restate its numbers uncharged.
      if (v.allowed) this.judgeAt(i, r, t, 0, v);
      else if (v.retryAfterMs !== Number.POSITIVE_INFINITY) {
        blockFor = Math.max(blockFor, this.policies[i]!.blockForMs);
      }
    }
    if (blockFor > 0) this.setBlock(key, t + blockFor, t);
    return combine(this.policies, this.verdicts);
  }

  /**
   * The common case, one fixed-width policy, without the per-policy loop and offset lookups:
   * the same steps as the general path, on the hot path of every single-policy limiter.
   */
  private consumeSolo(
    alg: RowAlgorithm,
    key: string,
    row: number | undefined,
    cost: number,
    t: number,
  ): Decision {
    const p = this.policies[0]!;
    const v = this.verdicts[0]!;
    const width = this.width;
    if (cost > p.burst) {
      judge(alg, this.slab, (row ?? 0) * width, t, cost, p, v);
    } else if (row !== undefined) {
      alg.take(this.slab, row * width, t, cost, p, v); // evaluates and charges in one pass
    } else {
      // An unseen key reads the fresh row 0 and gets a row of its own only once admitted.
      alg.evaluate(this.slab, 0, t, cost, p, v);
      if (v.allowed && cost > 0) {
        row = this.allocate(key, t);
        if (row < 0) return this.fullDecision();
        alg.commit(this.slab, row * width, t, cost, p);
      }
    }
    if (!v.allowed && p.blockForMs > 0 && v.retryAfterMs !== Number.POSITIVE_INFINITY) {
      this.setBlock(key, t + p.blockForMs, t);
    }
    return combine(this.policies, this.verdicts);
  }

  peekSync(key: string, cost: number, now: number | undefined): Decision {
    const t = now ?? wallNow();
    const blocked = this.blockedDecision(key, t);
    if (blocked !== undefined) return blocked;
    const r = this.index.get(key) ?? 0;
    for (let i = 0; i < this.policies.length; i++) {
      const v = this.verdicts[i]!;
      this.judgeAt(i, r, t, cost, v);
      const { allowed, retryAfterMs, delayMs } = v;
      this.judgeAt(i, r, t, 0, v); // remaining and reset as they stand, uncharged
      v.allowed = allowed;
      v.retryAfterMs = retryAfterMs;
      v.delayMs = delayMs;
    }
    return combine(this.policies, this.verdicts);
  }

  async refund(key: string, amount: number, now: number | undefined): Promise<void> {
    const row = this.index.get(key);
    if (row === undefined || amount <= 0) return;
    const t = now ?? wallNow();
    for (let i = 0; i < this.policies.length; i++) {
      const alg = this.algs[i]!;
      const p = this.policies[i]!;
      if (this.offsets[i]! < 0) {
        const log = this.logs[i]![row];
        if (log !== undefined) alg.refund(log as never, 0, t, amount, p);
      } else {
        alg.refund(this.slab as never, row * this.width + this.offsets[i]!, t, amount, p);
      }
    }
  }

  async reset(key: string): Promise<void> {
    const row = this.index.get(key);
    if (row !== undefined) this.remove(key, row);
    if (this.blocks.delete(key)) this.store.size--;
  }

  async block(key: string, ms: number, now: number | undefined): Promise<void> {
    const t = now ?? wallNow();
    this.setBlock(key, t + ms, t);
  }

  async unblock(key: string): Promise<void> {
    if (this.blocks.delete(key)) this.store.size--;
  }

  /** Policy i's verdict for the state in row r (row 0: fresh). */
  private judgeAt(i: number, r: number, t: number, cost: number, out: Verdict): void {
    const off = this.offsets[i]!;
    const alg = this.algs[i]!;
    if (off < 0) {
      judge(
        alg as Algorithm<number[]>,
        this.logs[i]![r] ?? EMPTY_LOG,
        0,
        t,
        cost,
        this.policies[i]!,
        out,
      );
    } else {
      judge(
        alg as Algorithm<Float64Array>,
        this.slab,
        r * this.width + off,
        t,
        cost,
        this.policies[i]!,
        out,
      );
    }
  }

  private commitAt(i: number, row: number, t: number, cost: number): void {
    const off = this.offsets[i]!;
    const p = this.policies[i]!;
    if (off < 0) {
      const logs = this.logs[i]!;
      let log = logs[row];
      if (log === undefined) {
        log = [];
        logs[row] = log;
      }
      (this.algs[i] as Algorithm<number[]>).commit(log, 0, t, cost, p);
    } else {
      (this.algs[i] as Algorithm<Float64Array>).commit(
        this.slab,
        row * this.width + off,
        t,
        cost,
        p,
      );
    }
  }

  /** When every policy's state in this row is back to fresh. */
  private restAt(row: number): number {
    let rest = 0;
    for (let i = 0; i < this.policies.length; i++) {
      const off = this.offsets[i]!;
      const p = this.policies[i]!;
      const at =
        off < 0
          ? (this.algs[i] as Algorithm<number[]>).restAt(this.logs[i]![row] ?? EMPTY_LOG, 0, p)
          : (this.algs[i] as Algorithm<Float64Array>).restAt(this.slab, row * this.width + off, p);
      if (at > rest) rest = at;
    }
    return rest;
  }

  private blockedDecision(key: string, t: number): Decision | undefined {
    const until = this.blocks.get(key);
    if (until === undefined) return undefined;
    if (until <= t) {
      this.blocks.delete(key);
      this.store.size--;
      return undefined;
    }
    return verdictFree(this.policies, "blocked", false, until - t);
  }

  private setBlock(key: string, until: number, t: number): void {
    const current = this.blocks.get(key);
    if (current === undefined) {
      // A block that cannot be stored is dropped: the key's own counter is limited anyway.
      if (this.store.size >= this.store.maxKeys && !this.store.makeRoom(t, this)) return;
      this.store.size++;
    }
    if (current === undefined || until > current) this.blocks.set(key, until);
  }

  private allocate(key: string, t: number): number {
    if (this.store.size >= this.store.maxKeys && !this.store.makeRoom(t, this)) return -1;
    const row = this.free.pop() ?? this.nextRow++;
    const need = (row + 1) * this.width;
    if (need > this.slab.length) {
      const grown = new Float64Array(Math.max(need, this.slab.length * 2));
      grown.set(this.slab);
      this.slab = grown;
    }
    this.index.set(key, row);
    this.keyOfRow[row] = key;
    this.store.size++;
    return row;
  }

  private remove(key: string, row: number): void {
    this.index.delete(key);
    this.keyOfRow[row] = undefined;
    const at = row * this.width;
    this.slab.fill(0, at, at + this.width);
    for (const logs of this.logs) if (logs.length > row) logs[row] = undefined;
    this.free.push(row);
    this.store.size--;
  }

  private fullDecision(): Decision {
    const allow = this.store.whenFull === "allow";
    return verdictFree(this.policies, "degraded", allow, allow ? 0 : Math.max(1, this.fullRetryMs));
  }

  /**
   * Frees one row: the first at-rest key within EVICT_SCAN keys, else the first that is not
   * limited. Limited keys (a unit request would be rejected) and blocked keys are never freed.
   */
  evictOne(t: number): boolean {
    let candidate: string | undefined;
    let candidateRow = 0;
    let soonest = Number.POSITIVE_INFINITY;
    for (let scanned = 0; scanned < EVICT_SCAN && this.index.size > 0; scanned++) {
      if (this.evictRow >= this.nextRow) this.evictRow = 1;
      const row = this.evictRow++;
      const key = this.keyOfRow[row];
      if (key === undefined) continue;
      if (this.restAt(row) <= t) {
        this.remove(key, row);
        return true;
      }
      if (candidate !== undefined || this.blocks.has(key)) continue;
      let limited = false;
      for (let i = 0; i < this.policies.length && !limited; i++) {
        this.judgeAt(i, row, t, 1, this.probe);
        if (!this.probe.allowed) {
          limited = true;
          soonest = Math.min(soonest, this.probe.retryAfterMs);
        }
      }
      if (!limited) {
        candidate = key;
        candidateRow = row;
      }
    }
    if (candidate !== undefined) {
      this.remove(candidate, candidateRow);
      return true;
    }
    this.fullRetryMs = soonest === Number.POSITIVE_INFINITY ? 1000 : soonest;
    return false;
  }

  /** Drops a few long-rested keys and expired blocks; called every 64 decisions. */
  private sweep(t: number): void {
    if (this.index.size > 0) {
      for (let i = 0; i < SWEEP_BATCH; i++) {
        if (this.sweepRow >= this.nextRow) this.sweepRow = 1;
        const row = this.sweepRow++;
        const key = this.keyOfRow[row];
        if (key !== undefined && this.restAt(row) + this.sweepGraceMs <= t) this.remove(key, row);
      }
    }
    if (this.blocks.size > 0) {
      this.blockIter ??= this.blocks.entries();
      for (let i = 0; i < SWEEP_BATCH; i++) {
        const next = this.blockIter.next();
        if (next.done) {
          this.blockIter = undefined;
          break;
        }
        if (next.value[1] <= t) {
          this.blocks.delete(next.value[0]);
          this.store.size--;
        }
      }
    }
  }
}
