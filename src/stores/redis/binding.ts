import { type Decision, verdictFree } from "../../core/decision.js";
import { ConfigError } from "../../core/errors/config-error.js";
import { StoreError } from "../../core/errors/store-error.js";
import type { Policy } from "../../core/policy.js";
import type { StoreBinding } from "../../core/store.js";
import { hashSlot } from "./hash-slot.js";
import { LocalCache } from "./local-cache.js";
import { ReplyReader, toDecision } from "./reply.js";
import type { ScriptRunner } from "./runner.js";

/** c(onsume) p(eek) r(efund) x (reset) b(lock) u(nblock): the script's operation codes. */
type Op = "c" | "p" | "r" | "x" | "b" | "u";

type Pending = {
  readonly op: Op;
  readonly key: string;
  /** The record: "<namespace>:{<key>}:<policy ids>", hash-tagged by the user key. */
  readonly record: string;
  readonly units: number;
  readonly now: number | undefined;
  readonly resolve: (value: never) => void;
  readonly reject: (error: unknown) => void;
};

/** What a binding shares with its store. */
export type BindingContext = {
  readonly runner: ScriptRunner;
  readonly onStoreError: "fail-closed" | "fail-open" | "fallback";
  readonly fallback: ((namespace: string, policies: readonly Policy[]) => StoreBinding) | undefined;
  readonly maxBatch: number;
  readonly cacheKeys: number;
  readonly ttlPaddingMs: number;
  readonly stats: { degraded: number; localHits: number };
};

/**
 * One limiter's view of the Redis store. Operations issued in the same turn of the event loop
 * travel together: one EVALSHA carries up to `maxBatch` of them (on a cluster, one per hash
 * slot), and the script decides each atomically in order. The client sees a few large
 * commands instead of many small ones, which is what lifts throughput past per-command cost.
 */
export class RedisBinding implements StoreBinding {
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly header: string[];
  private readonly prefix: string;
  private readonly suffix: string;
  private readonly cache: LocalCache | undefined;
  private fallbackBinding: StoreBinding | undefined;

  constructor(
    private readonly ctx: BindingContext,
    private readonly namespace: string,
    private readonly policies: readonly Policy[],
  ) {
    this.prefix = `${namespace}:{`;
    this.suffix = `}:${policies.map((p) => p.id).join("+")}`;
    this.cache = ctx.cacheKeys > 0 ? new LocalCache(policies, ctx.cacheKeys) : undefined;
    // The first argument is the deadline, set by the runner as each call goes out.
    this.header = ["", String(policies.length), this.cache ? "1" : "0", String(ctx.ttlPaddingMs)];
    for (const p of policies) {
      this.header.push(
        p.algorithm,
        String(p.limit),
        String(p.windowMs),
        String(p.burst),
        p.escalation === undefined
          ? String(p.blockForMs)
          : `${p.blockForMs}:${p.escalation.factor}:${p.escalation.maxMs}:${p.escalation.forgetAfterMs}`,
        p.mode,
        String(p.maxDelayMs),
      );
    }
  }

  consume(key: string, cost: number, now: number | undefined): Promise<Decision> {
    if (this.cache !== undefined) {
      const hit = this.cache.lookup(key, cost, now);
      if (hit !== undefined) {
        this.ctx.stats.localHits++;
        return Promise.resolve(hit);
      }
    }
    return this.enqueue("c", key, cost, now);
  }

  peek(key: string, cost: number, now: number | undefined): Promise<Decision> {
    return this.enqueue("p", key, cost, now);
  }

  refund(key: string, amount: number, now: number | undefined): Promise<void> {
    this.cache?.forget(key);
    return this.enqueue("r", key, amount, now);
  }

  reset(key: string): Promise<void> {
    this.cache?.forget(key);
    return this.enqueue("x", key, 0, undefined);
  }

  block(key: string, ms: number, now: number | undefined): Promise<void> {
    this.cache?.forget(key);
    return this.enqueue("b", key, ms, now);
  }

  unblock(key: string): Promise<void> {
    this.cache?.forget(key);
    return this.enqueue("u", key, 0, undefined);
  }

  /** Sends whatever is queued now (the store's close uses it). */
  readonly flush = (): void => {
    this.scheduled = false;
    const queue = this.queue;
    if (queue.length === 0) return;
    this.queue = [];
    if (!this.ctx.runner.cluster) {
      this.send(queue);
      return;
    }
    // Cluster: a script's keys must share one slot, so one call per slot.
    const groups = new Map<number, Pending[]>();
    for (const p of queue) {
      const slot = hashSlot(p.record);
      const group = groups.get(slot);
      if (group === undefined) groups.set(slot, [p]);
      else group.push(p);
    }
    for (const group of groups.values()) this.send(group);
  };

  private enqueue<T>(op: Op, key: string, units: number, now: number | undefined): Promise<T> {
    if (now !== undefined && !Number.isFinite(now)) {
      return Promise.reject(
        new ConfigError([
          { option: "clock", received: now, expected: "a function returning a finite time in ms" },
        ]),
      );
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        op,
        key,
        record: `${this.prefix}${key}${this.suffix}`,
        units,
        now,
        resolve: resolve as (value: never) => void,
        reject,
      });
      if (this.queue.length >= this.ctx.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  private send(batch: Pending[]): void {
    const { runner } = this.ctx;
    if (runner.breaker.gate() === "open") {
      this.degrade(
        batch,
        new StoreError(
          `Redis unavailable: circuit open after repeated failures, next probe in ${runner.breaker.retryInMs()} ms`,
        ),
      );
      return;
    }
    const keys = new Array<string>(batch.length);
    const argv = this.header.slice();
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      keys[i] = p.record;
      argv.push(`${p.op}${p.units},${p.now === undefined ? "" : p.now}`);
    }
    runner.run(keys, argv).then(
      (reply) => this.settle(batch, reply),
      (error: unknown) => this.degrade(batch, error),
    );
  }

  private settle(batch: Pending[], reply: unknown): void {
    if (!Array.isArray(reply)) {
      this.degrade(
        batch,
        new StoreError(
          `unexpected reply from the throttlekit script: ${String(reply).slice(0, 200)}`,
        ),
      );
      return;
    }
    const reader = new ReplyReader(reply, this.policies.length);
    let i = 0;
    try {
      for (; i < batch.length; i++) {
        const p = batch[i]!;
        const parsed = reader.next();
        if (p.op === "c" || p.op === "p") {
          const decision = toDecision(parsed, this.policies);
          if (p.op === "c") this.cache?.learn(p.key, p.units, parsed, decision);
          p.resolve(decision as never);
        } else {
          p.resolve(undefined as never);
        }
      }
      if (!reader.finished) throw new Error("the throttlekit script answered more than asked");
    } catch (error) {
      this.degrade(batch.slice(i), new StoreError(String(error), { cause: error }));
    }
  }

  /** Answers a failed batch: decisions in the chosen mode, other operations with the error. */
  private degrade(batch: Pending[], error: unknown): void {
    const storeError =
      error instanceof StoreError
        ? error
        : new StoreError(`Redis store failed: ${String(error)}`, { cause: error });
    for (const p of batch) {
      try {
        if (p.op === "c" || p.op === "p") {
          this.ctx.stats.degraded++;
          p.resolve(this.degraded(p) as never);
          continue;
        }
        // Keep the local limiter in step, yet tell the caller Redis did not take it.
        const fallback = this.fallback();
        if (fallback !== undefined) {
          const local =
            p.op === "r"
              ? fallback.refund(p.key, p.units, p.now)
              : p.op === "x"
                ? fallback.reset(p.key)
                : p.op === "b"
                  ? fallback.block(p.key, p.units, p.now)
                  : fallback.unblock(p.key);
          local.catch(() => {});
        }
        p.reject(storeError);
      } catch (failure) {
        p.reject(failure);
      }
    }
  }

  private degraded(p: Pending): Decision | Promise<Decision> {
    const mode = this.ctx.onStoreError;
    if (mode === "fail-open") return verdictFree(this.policies, "degraded", true, 0);
    if (mode === "fail-closed") {
      const breaker = this.ctx.runner.breaker;
      return verdictFree(
        this.policies,
        "degraded",
        false,
        Math.max(1, breaker.retryInMs() || breaker.cooldownMs),
      );
    }
    const fallback = this.fallback()!;
    const sync = p.op === "c" ? fallback.consumeSync : fallback.peekSync;
    if (sync !== undefined) return asDegraded(sync.call(fallback, p.key, p.units, p.now));
    const local =
      p.op === "c" ? fallback.consume(p.key, p.units, p.now) : fallback.peek(p.key, p.units, p.now);
    return local.then(asDegraded);
  }

  private fallback(): StoreBinding | undefined {
    if (this.ctx.fallback === undefined) return undefined;
    this.fallbackBinding ??= this.ctx.fallback(this.namespace, this.policies);
    return this.fallbackBinding;
  }
}

/**
 * A fallback admission is marked degraded (the limit held per process, not fleet-wide). A
 * fallback refusal keeps the local limiter's own reason: the client did exceed the policy as
 * this process counts it, so it is answered as any quota refusal (HTTP 429), unlike a
 * fail-closed refusal, which limits nobody in particular and is answered 503.
 */
function asDegraded(d: Decision): Decision {
  return d.allowed ? { ...d, reason: "degraded" } : d;
}
