import {
  DURATION_FORM,
  type Duration,
  parseDuration,
  parseTimerDuration,
  TIMER_DURATION_FORM,
} from "../../core/duration.js";
import { ProblemList } from "../../core/errors/config-error.js";
import type { EventHub } from "../../core/events.js";
import type { ListStore } from "../../core/list-store.js";
import { LOGGER_FORM, type Logger, resolveLogger } from "../../core/logger.js";
import { memoryStore } from "../../core/memory-store.js";
import type { MetricsBinding } from "../../core/metrics/types.js";
import type { Policy } from "../../core/policy.js";
import type { ConcurrencyBinding, Store, StoreBinding } from "../../core/store.js";
import { type BindingContext, RedisBinding } from "./binding.js";
import { CircuitBreaker } from "./breaker.js";
import { type Commands, type RedisClientLike, wrapClient } from "./client.js";
import { RedisConcurrency } from "./concurrency.js";
import { redisMetrics } from "./metrics.js";
import { OutageLog } from "./outage-log.js";
import { redisLists } from "./redis-lists.js";
import { ScriptRunner } from "./runner.js";

export type RedisStoreOptions = {
  /**
   * A client you built and connected: ioredis or iovalkey (`Redis` or `Cluster`), or node-redis
   * v4/v5 (`createClient()` or `createCluster()`). The store never opens, closes or configures
   * it. With ioredis, prefer `enableOfflineQueue: false` and a small `maxRetriesPerRequest` so a
   * lost connection fails fast instead of queueing (see docs/redis.md).
   */
  client: RedisClientLike;
  /**
   * Longest wait for one Redis call (ms or "500ms", at most 24 days: it becomes a timer). Past
   * it the call counts as failed and the decision is answered per `onStoreError`; a late reply
   * is ignored, and a call Redis gets to only after it does nothing (docs/redis.md, "Late
   * runs").
   * @default 500
   */
  timeout?: Duration;
  /**
   * What a decision is when Redis cannot answer (error, timeout, circuit open); such decisions
   * carry `reason: "degraded"`. "fallback": a local memory limiter with the same policies
   * decides (limits keep holding, per process); "fail-open": allowed; "fail-closed": rejected.
   * refund, reset, block and unblock reject with a StoreError (in "fallback" mode after being
   * applied to the local limiter).
   * @default "fallback"
   */
  onStoreError?: "fail-closed" | "fail-open" | "fallback";
  /**
   * After `failures` consecutive failed calls, stop calling Redis for `cooldown` and answer
   * degraded at once; then one probe call decides whether to resume. `false` disables it.
   * `cooldown` is at most 24 days.
   * @default { failures: 3, cooldown: "1s" }
   */
  circuitBreaker?: false | { failures?: number; cooldown?: Duration };
  /**
   * Remembers keys Redis rejected (limited or blocked) until the time they may pass, and answers
   * them locally: an attacker's requests cost no round trip. `false` disables it.
   * @default { maxKeys: 10_000 }
   */
  localCache?: false | { maxKeys?: number };
  /**
   * Most operations carried by one EVALSHA. Operations issued in the same event-loop turn are
   * batched; each is still decided atomically. 1 sends one call per operation.
   * @default 128
   */
  maxBatch?: number;
  /**
   * Extra lifetime for keys written with the caller's time (a limiter `clock`), so clocks that
   * disagree with Redis's (skewed servers, test clocks) never see state vanish early. Keys
   * written with Redis TIME get exactly their state's lifetime.
   * @default "1s"
   */
  ttlPadding?: Duration;
  /**
   * Where the store says, once per transition, that Redis stopped answering
   * (WARN_TK_STORE_OUTAGE) and that it answers again (WARN_TK_STORE_RECOVERED); never per
   * request. `false` silences it. See docs/errors.md.
   * @default console
   */
  logger?: Logger | false;
};

/** Counters for monitoring: how often Redis was called, spared, or unavailable. */
export type RedisStoreStats = {
  /** Commands sent to Redis (EVALSHA, and EVAL after NOSCRIPT). */
  readonly commands: number;
  /** Decisions answered by the local cache without a round trip. */
  readonly localHits: number;
  /** Decisions answered degraded (Redis failed, timed out, or the circuit was open). */
  readonly degraded: number;
};

/** The Redis store: a Store plus its counters and circuit state. */
export interface RedisStore extends Store {
  readonly stats: RedisStoreStats;
  /** True while the circuit breaker keeps calls away from Redis. */
  readonly circuitOpen: boolean;
  /** Adds a hub `degraded` and `recovered` go to (every limiter on the store adds its own). */
  observe(events: EventHub): void;
}

const OPTION_KEYS = [
  "client",
  "timeout",
  "onStoreError",
  "circuitBreaker",
  "localCache",
  "maxBatch",
  "ttlPadding",
  "logger",
] as const;
const CLIENT_FORM =
  "an ioredis or iovalkey client or Cluster, or a node-redis v4/v5 client or cluster, already created";

/**
 * A store keeping limiter state in Redis (single node, Cluster, or Valkey): every decision is one
 * atomic script run, however many policies, with the same results as the memory store.
 *
 * Keys: one record per limiter and user key, `<prefix>:{<key>}:<policy ids joined by "+">`,
 * holding the block and every policy's state; it expires when the last of them ends. The
 * braces are a hash tag: every key of one user key lives in one Cluster slot.
 *
 * @example
 * import Redis from "ioredis";
 * import { createLimiter } from "throttlekit";
 * import { redisStore } from "throttlekit/redis";
 *
 * const client = new Redis({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });
 * const limiter = createLimiter({
 *   policies: ["10/s", "1000/h"],
 *   store: redisStore({ client, timeout: "200ms", onStoreError: "fallback" }),
 * });
 * const d = await limiter.consume(`ip:${ip}`);
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  const problems = new ProblemList();
  if (typeof options !== "object" || options === null) {
    problems.add("redisStore(options)", options, "an object { client, ... }");
    problems.throwIfAny();
  }
  problems.unknownKeys(options, OPTION_KEYS, "redisStore");
  const commands = wrapClient(options.client);
  if (commands === undefined) problems.add("redisStore.client", options.client, CLIENT_FORM);
  const timeoutMs = timerDuration(options.timeout, 500, "redisStore.timeout", problems);
  const onStoreError = options.onStoreError ?? "fallback";
  if (
    onStoreError !== "fail-closed" &&
    onStoreError !== "fail-open" &&
    onStoreError !== "fallback"
  ) {
    problems.add(
      "redisStore.onStoreError",
      options.onStoreError,
      '"fail-closed", "fail-open" or "fallback"',
    );
  }
  let failures = 3;
  let cooldownMs = 1000;
  const cb = options.circuitBreaker;
  if (cb === false) failures = Number.POSITIVE_INFINITY;
  else if (cb !== undefined) {
    if (typeof cb !== "object" || cb === null) {
      problems.add("redisStore.circuitBreaker", cb, "false or { failures?, cooldown? }");
    } else {
      problems.unknownKeys(cb, ["failures", "cooldown"], "redisStore.circuitBreaker");
      failures = wholeNumber(cb.failures, 3, "redisStore.circuitBreaker.failures", problems);
      cooldownMs = timerDuration(cb.cooldown, 1000, "redisStore.circuitBreaker.cooldown", problems);
    }
  }
  let cacheKeys = 10_000;
  const lc = options.localCache;
  if (lc === false) cacheKeys = 0;
  else if (lc !== undefined) {
    if (typeof lc !== "object" || lc === null) {
      problems.add("redisStore.localCache", lc, "false or { maxKeys? }");
    } else {
      problems.unknownKeys(lc, ["maxKeys"], "redisStore.localCache");
      cacheKeys = wholeNumber(lc.maxKeys, 10_000, "redisStore.localCache.maxKeys", problems);
    }
  }
  const maxBatch = wholeNumber(options.maxBatch, 128, "redisStore.maxBatch", problems);
  let ttlPaddingMs = 1000;
  if (options.ttlPadding !== undefined) {
    const ms = parseDuration(options.ttlPadding);
    if (ms === undefined) problems.add("redisStore.ttlPadding", options.ttlPadding, DURATION_FORM);
    else ttlPaddingMs = ms;
  }
  const logger = resolveLogger(options.logger);
  if (logger === undefined) problems.add("redisStore.logger", options.logger, LOGGER_FORM);
  problems.throwIfAny();
  return new RedisStoreImpl(
    commands!,
    timeoutMs,
    onStoreError,
    new CircuitBreaker(failures, cooldownMs),
    cacheKeys,
    maxBatch,
    ttlPaddingMs,
    logger!,
  );
}

class RedisStoreImpl implements RedisStore {
  readonly name = "redis";
  /** Allow and deny lists in Redis: the whole fleet shares them (see redis-lists.ts). */
  readonly lists: (namespace: string) => ListStore;
  /** Fleet metrics buckets in Redis, one hash per second (see metrics.ts). */
  readonly metrics: (namespace: string) => MetricsBinding;
  private readonly runner: ScriptRunner;
  private readonly outages: OutageLog;
  private readonly counters = { degraded: 0, localHits: 0 };
  /**
   * Bindings by prefix and policies, held weakly: a policy function may mint one per distinct
   * limit a client asks for (docs/redis.md, "Bindings"). A binding lives while a limiter uses it
   * or an operation of it is queued or in flight; its counters are in Redis, so one collected
   * takes only its local cache with it.
   */
  private readonly bindings = new Map<string, WeakRef<RedisBinding>>();
  /** Forgets the entry of a binding the garbage collector took (unless rebound since). */
  private readonly finalizer = new FinalizationRegistry<string>((id) => {
    if (this.bindings.get(id)?.deref() === undefined) this.bindings.delete(id);
  });
  private readonly leases = new Map<string, RedisConcurrency>();
  private readonly ctx: BindingContext;
  /** fallback mode: leases answered locally while Redis is unavailable. */
  private readonly localLeases: ((namespace: string) => ConcurrencyBinding) | undefined;

  constructor(
    commands: Commands,
    timeoutMs: number,
    onStoreError: "fail-closed" | "fail-open" | "fallback",
    breaker: CircuitBreaker,
    cacheKeys: number,
    maxBatch: number,
    ttlPaddingMs: number,
    logger: Logger,
  ) {
    this.outages = new OutageLog(logger, onStoreError, this.counters);
    this.runner = new ScriptRunner(commands, timeoutMs, breaker, this.outages);
    this.lists = redisLists(commands, timeoutMs);
    this.metrics = redisMetrics(commands, timeoutMs);
    let fallback: BindingContext["fallback"];
    if (onStoreError === "fallback") {
      // Created on first need: a healthy Redis never pays for it.
      let local: Store | undefined;
      // Per process on purpose: the per-process warning would be noise here.
      const localStore = () => (local ??= memoryStore({ logger: false }));
      fallback = (namespace, policies) => localStore().bind(namespace, policies);
      this.localLeases = (namespace) => localStore().concurrency!(namespace);
    }
    this.ctx = {
      runner: this.runner,
      onStoreError,
      fallback,
      maxBatch,
      cacheKeys,
      ttlPaddingMs,
      stats: this.counters,
    };
  }

  get stats(): RedisStoreStats {
    return { commands: this.runner.calls, ...this.counters };
  }

  get circuitOpen(): boolean {
    return this.runner.breaker.open;
  }

  bind(namespace: string, policies: readonly Policy[]): StoreBinding {
    // Limiters with the same prefix and policies share a binding, hence its batches and cache.
    const id = `${namespace}\u0000${policies.map((p) => p.id).join("\u0000")}`;
    let binding = this.bindings.get(id)?.deref();
    if (binding === undefined) {
      binding = new RedisBinding(this.ctx, namespace, policies);
      this.bindings.set(id, new WeakRef(binding));
      this.finalizer.register(binding, id);
    }
    return binding;
  }

  /** Bindings registered now (a collected one counts until its finalizer has run). */
  get bindingCount(): number {
    return this.bindings.size;
  }

  /**
   * Sends `degraded` and `recovered` to `events` once per outage transition (outage-log.ts).
   * Every limiter built on the store calls it with its hub; a hub added twice is kept once.
   */
  observe(events: EventHub): void {
    this.outages.observe(events);
  }

  /** createConcurrencyLimiter's leases: one script run per call (concurrency.ts). */
  concurrency(namespace: string): ConcurrencyBinding {
    let leases = this.leases.get(namespace);
    if (leases === undefined) {
      leases = new RedisConcurrency(this.ctx, namespace, this.localLeases);
      this.leases.set(namespace, leases);
    }
    return leases;
  }

  /** Sends anything still queued. The client is yours: the store never quits it. */
  async close(): Promise<void> {
    for (const ref of this.bindings.values()) ref.deref()?.flush();
  }
}

/** A duration that becomes a timer (or a timer-like wait): positive, within a timer's range. */
function timerDuration(
  value: unknown,
  fallback: number,
  option: string,
  problems: ProblemList,
): number {
  if (value === undefined) return fallback;
  const ms = parseTimerDuration(value);
  if (ms === undefined) {
    problems.add(option, value, TIMER_DURATION_FORM);
    return fallback;
  }
  return ms;
}

function wholeNumber(
  value: unknown,
  fallback: number,
  option: string,
  problems: ProblemList,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    problems.add(option, value, "a whole number ≥ 1");
    return fallback;
  }
  return value;
}
