import { ProblemList } from "./errors/config-error.js";
import { LOGGER_FORM, type Logger, resolveLogger, warnOnce } from "./logger.js";
import { MemoryBinding, type Room } from "./memory/binding.js";
import { MemoryConcurrency } from "./memory/concurrency.js";
import { memoryLists } from "./memory-list-store.js";
import { memoryMetrics } from "./memory-metrics.js";
import type { MetricsBinding } from "./metrics/types.js";
import type { Policy } from "./policy.js";
import type { ConcurrencyBinding, Store, StoreBinding } from "./store.js";

export type MemoryStoreOptions = {
  /**
   * Most keys (counters, blocks and escalation histories) held at once, across every limiter
   * sharing this store. A new key beyond it evicts, in this order: a key at rest, a counter that
   * is not limited, the escalation history of a key not blocked now, the limited counter that
   * frees soonest; a new block may also evict the block that ends soonest. Blocks are kept over
   * counters. With keys capped at 1024 characters by the limiter, the
   * store's worst case is about maxKeys × 2.2 KB (docs/memory-store.md).
   * @default 1_000_000
   */
  maxKeys?: number;
  /**
   * What a new key gets when the store is full and holds nothing but blocks (no counter can be
   * forgotten): "reject" answers `allowed: false, reason: "degraded"`; "allow" admits it
   * untracked, `reason: "degraded"`.
   * @default "reject"
   */
  whenFull?: "reject" | "allow";
  /**
   * Where the store's one-time warnings go (WARN_TK_MEMORY_STORE_FULL,
   * WARN_TK_MEMORY_STORE_PER_PROCESS); `false` silences them.
   * @default console
   */
  logger?: Logger | false;
};

const MEMORY_STORE_KEYS = ["maxKeys", "whenFull", "logger"];
const DEFAULT_MAX_KEYS = 1_000_000;

/**
 * The embedded store: state in typed-array rows indexed by a Map, no timer per key, lazy
 * expiry with a bounded incremental sweep, a `maxKeys` bound, and a synchronous path.
 *
 * @example
 * const limiter = createLimiter({ policies: "100/min", store: memoryStore({ maxKeys: 50_000 }) });
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const problems = new ProblemList();
  problems.unknownKeys(options, MEMORY_STORE_KEYS, "memoryStore");
  const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
    problems.add("memoryStore.maxKeys", options.maxKeys, "a whole number ≥ 1");
  }
  const whenFull = options.whenFull ?? "reject";
  if (whenFull !== "reject" && whenFull !== "allow") {
    problems.add("memoryStore.whenFull", options.whenFull, '"reject" or "allow"');
  }
  const logger = resolveLogger(options.logger);
  if (logger === undefined) problems.add("memoryStore.logger", options.logger, LOGGER_FORM);
  problems.throwIfAny();
  if (inClusterWorker()) {
    warnOnce(
      logger!,
      "WARN_TK_MEMORY_STORE_PER_PROCESS",
      "memoryStore() in a cluster worker or pm2 instance counts per process: each process lets through the whole limit. Use redisStore() to share limits across processes.",
    );
  }
  return new InMemoryStore(maxKeys, whenFull, logger!);
}

/**
 * True in a node:cluster worker (NODE_UNIQUE_ID) or a pm2 instance (NODE_APP_INSTANCE), read
 * through globalThis so the core imports nothing from node:* and runs on edge runtimes.
 */
function inClusterWorker(): boolean {
  try {
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
      ?.env;
    return env?.NODE_UNIQUE_ID !== undefined || env?.NODE_APP_INSTANCE !== undefined;
  } catch {
    return false; // a runtime that guards its environment (Deno without --allow-env)
  }
}

/** The memory store, with its live key count for monitoring. */
export interface MemoryStore extends Store {
  /**
   * Keys held now (counters, blocks, escalation histories and lease keys, across limiters):
   * what `maxKeys` bounds.
   */
  readonly size: number;
  readonly maxKeys: number;
}

/** Bindings of other limiters a binding taking its first key sweeps (see `hold`). */
const SWEEP_BINDINGS = 2;

/**
 * The registry of bindings (one per prefix + policies) and the room they share.
 *
 * Bindings are bounded (docs/memory-store.md, "Bindings"): a policy function may mint one per
 * distinct limit a client asks for. The registry holds each binding weakly, and strongly only
 * while it holds a key (`held`): a binding goes once no limiter uses it and its keys are gone,
 * never while a key of it is live, and two binds of one prefix and policies get the same
 * binding as long as either can still see it. Held bindings are at most `maxKeys`; each new one
 * sweeps a few others, so those nobody decides with any more give their rested keys back.
 */
class InMemoryStore implements MemoryStore, Room {
  readonly name = "memory";
  /** Allow and deny lists, shared by every limiter (and HTTP limiter) using this store. */
  readonly lists = memoryLists();
  size = 0;
  private readonly bindings = new Map<string, WeakRef<MemoryBinding>>();
  /** The bindings holding at least one key, in the order they took their first. */
  private readonly held = new Set<MemoryBinding>();
  private heldSweep: Iterator<MemoryBinding> | undefined;
  /** Forgets the entry of a binding the garbage collector took (unless rebound since). */
  private readonly finalizer = new FinalizationRegistry<string>((id) => {
    if (this.bindings.get(id)?.deref() === undefined) this.bindings.delete(id);
  });
  /** Lease tables of createConcurrencyLimiter, one per namespace; each key counts as one. */
  private readonly leases = new Map<string, MemoryConcurrency>();

  constructor(
    readonly maxKeys: number,
    readonly whenFull: "reject" | "allow",
    private readonly logger: Logger,
  ) {}

  bind(namespace: string, policies: readonly Policy[]): StoreBinding {
    // Limiters with the same prefix and policies share state, as they would in Redis.
    const id = `${namespace}\u0000${policies.map((p) => p.id).join("\u0000")}`;
    let binding = this.bindings.get(id)?.deref();
    if (binding === undefined) {
      binding = new MemoryBinding(this, policies);
      this.bindings.set(id, new WeakRef(binding));
      this.finalizer.register(binding, id);
    }
    return binding;
  }

  /** Bindings registered now (a collected one counts until its finalizer has run). */
  get bindingCount(): number {
    return this.bindings.size;
  }

  /** Bindings holding a key, hence kept alive by the store: at most `maxKeys`. */
  get heldCount(): number {
    return this.held.size;
  }

  hold(binding: MemoryBinding, t: number): void {
    // Sweeps before adding, so a binding never sweeps itself here.
    for (let i = 0; i < SWEEP_BINDINGS && this.held.size > 0; i++) {
      this.heldSweep ??= this.held.values();
      const next = this.heldSweep.next();
      if (next.done) this.heldSweep = undefined;
      else next.value.sweep(t);
    }
    this.held.add(binding);
  }

  release(binding: MemoryBinding): void {
    this.held.delete(binding);
  }

  concurrency(namespace: string): ConcurrencyBinding {
    // Limiters with the same prefix share leases, as they would in Redis.
    let table = this.leases.get(namespace);
    if (table === undefined) {
      table = new MemoryConcurrency(this);
      this.leases.set(namespace, table);
    }
    return table;
  }

  /** Fleet-metrics buckets per namespace, in this process (memory-metrics.ts). */
  metrics(namespace: string): MetricsBinding {
    let table = this.metricTables.get(namespace);
    if (table === undefined) {
      table = memoryMetrics();
      this.metricTables.set(namespace, table);
    }
    return table;
  }

  private readonly metricTables = new Map<string, MetricsBinding>();

  makeRoom(t: number, asking: MemoryBinding | undefined, forBlock: boolean): boolean {
    // A key at rest (a counter back to fresh, a block that has ended, an escalation history
    // every policy has forgotten, a lease key whose leases have all expired) or a counter that
    // is not limited: forgetting it changes no answer.
    if (
      this.evictFrom(
        asking,
        (b) => b.evictCounter(t, false) || b.blocks.evictEnded(t) || b.escalations.evictRested(t),
      )
    ) {
      return true;
    }
    for (const table of this.leases.values()) if (table.evictIdle(t)) return true;
    // Saturated: every key scanned is limited, blocked or remembered. An offender's counter is
    // forgotten before an innocent newcomer is refused (issue 13 item 9); blocks are kept over
    // counters. First goes the block history of a key not blocked now (its next block would
    // start over at base, which admits nothing), then a limited counter; a blocked key's history
    // stays while its block does (issue 17 item 5).
    warnOnce(
      this.logger,
      "WARN_TK_MEMORY_STORE_FULL",
      `the memory store is full (maxKeys ${this.maxKeys}) of limited or blocked keys: escalation histories and limited counters are being forgotten to admit new keys, and new keys get whenFull ("${this.whenFull}") once only blocks are left. Raise maxKeys.`,
    );
    if (this.evictFrom(asking, (b) => b.escalations.evictUnblocked(t, b.blocks))) return true;
    if (this.evictFrom(asking, (b) => b.evictCounter(t, true))) return true;
    // A penalty that starts is never dropped: the block that ends soonest goes instead.
    return forBlock && this.evictFrom(asking, (b) => b.blocks.evictSoonest());
  }

  /** Tries `evict` on the asking binding first, then on every other. */
  private evictFrom(
    asking: MemoryBinding | undefined,
    evict: (b: MemoryBinding) => boolean,
  ): boolean {
    if (asking !== undefined && evict(asking)) return true;
    // Only bindings holding keys have any to free.
    for (const b of this.held) if (b !== asking && evict(b)) return true;
    return false;
  }

  fullRetryMs(t: number): number {
    let soonest = Number.POSITIVE_INFINITY;
    for (const b of this.held) soonest = Math.min(soonest, b.blocks.soonestEnd());
    return soonest === Number.POSITIVE_INFINITY ? 1000 : soonest - t;
  }

  async close(): Promise<void> {
    this.bindings.clear();
    this.held.clear();
    this.heldSweep = undefined;
    for (const table of this.leases.values()) table.clear();
    this.leases.clear();
    this.size = 0;
  }
}
