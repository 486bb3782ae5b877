import { Ban, type BanOptions, type BanSpec, checkBan, countsForBan } from "./ban.js";
import { wallNow } from "./clock.js";
import type { Decision } from "./decision.js";
import { DURATION_FORM, type Duration, parseDuration } from "./duration.js";
import { ConfigError, ProblemList } from "./errors/config-error.js";
import { SyncUnsupportedError } from "./errors/sync-unsupported-error.js";
import {
  createEvents,
  type EventHub,
  type EventListener,
  emitDecision,
  type ThrottleEventType,
} from "./events.js";
import { LOGGER_FORM, type Logger, resolveLogger } from "./logger.js";
import { type MemoryStore, memoryStore } from "./memory-store.js";
import { createMetrics } from "./metrics/collector.js";
import { requireMetrics } from "./metrics/require.js";
import type { Metrics, MetricsOptions, MetricsSnapshot } from "./metrics/types.js";
import { MAX_POLICY_MS, type Policy, type PolicyInput, parsePolicies } from "./policy.js";
import type { Store, StoreBinding } from "./store.js";
import { checkTimers, type Timers } from "./timers.js";
import { type WaitOptions, WaitQueues } from "./wait-for.js";
import {
  type AnyFunction,
  type OnLimitedMode,
  type SyncLimiter,
  type WrapOptions,
  type Wrapped,
  wrapFunction,
} from "./wrap.js";

export type LimiterOptions = {
  /** One policy or several (all must pass; all are charged). "10/s", "1000 per hour", {...}. */
  policies: PolicyInput | readonly PolicyInput[];
  /** Where state lives. @default memoryStore() */
  store?: Store;
  /** Namespace in the store; limiters with different prefixes never share counters. @default "tk" */
  prefix?: string;
  /**
   * Clock in ms. When given, stores use it (tests pass throttlekit/testing's manual clock);
   * when omitted, each store uses its own time (Date.now(), or the Redis server's TIME).
   */
  clock?: () => number;
  /**
   * Timers for waiting (`waitFor`, wrap's "wait"). Tests pass throttlekit/testing's
   * `manualClock().timers` together with its `now` so waits end as the clock advances.
   * @default the host's setTimeout / clearTimeout
   */
  timers?: Timers;
  /**
   * Where this limiter's events go (decision, limited, blocked, violation, and the store's
   * degraded / recovered). Pass one hub to several limiters to watch them together.
   * @default a hub of its own (`limiter.events`)
   */
  events?: EventHub;
  /** Names the limiter in events and metrics (their `rule`). @default the prefix */
  name?: string;
  /**
   * Collect metrics from this limiter's events (`limiter.metrics()`): `true`, or the collector's
   * options (a `store` shares them with the fleet).
   * @default false
   */
  metrics?: boolean | MetricsOptions;
  /**
   * Blocks a key for `duration` after `after` refusals within `within`, fleet-wide through the
   * store (docs/penalties.md). Each ban emits `autoBlock` and logs once.
   * @default undefined (no ban)
   */
  ban?: BanOptions;
  /**
   * Where the limiter's one-time messages go (a ban that starts: WARN_TK_AUTO_BLOCKED);
   * `false` silences them.
   * @default console
   */
  logger?: Logger | false;
};

export type ConsumeOptions = {
  /** Units this request costs; a whole number ≥ 0 (0 checks without charging). @default 1 */
  cost?: number;
};

export interface Limiter {
  readonly policies: readonly Policy[];
  readonly prefix: string;
  readonly store: Store;
  /** True when the store answers in-process (the memory store): consumeSync then never throws SyncUnsupportedError. */
  readonly canConsumeSync: boolean;
  /** Decides and, when allowed, charges every policy. Never throws for a limit hit. */
  consume(key: string, options?: ConsumeOptions): Promise<Decision>;
  /** Synchronous consume, for stores with an in-process path (the memory store). */
  consumeSync(key: string, options?: ConsumeOptions): Decision;
  /** What consume would answer, charging nothing; `remaining` is what is left now. */
  peek(key: string, options?: ConsumeOptions): Promise<Decision>;
  /** Gives back `amount` units (default 1) to every policy, never above capacity. */
  refund(key: string, amount?: number): Promise<void>;
  /** Forgets the key: full capacity, no block. */
  reset(key: string): Promise<void>;
  /** Rejects the key with reason "blocked" for `duration` (ms or "15m"). */
  block(key: string, duration: Duration): Promise<void>;
  unblock(key: string): Promise<void>;
  /**
   * Waits until the request is admitted and charged, then resolves with its Decision. Sleeps on
   * `retryAfterMs` (no polling); waiters of one key are served first come, first served.
   * Rejects with RateLimitedError when it cannot be admitted within `maxWaitMs`, the key's
   * queue is full (`maxQueue`), or the cost can never pass; with the signal's reason on abort.
   */
  waitFor(key: string, options?: WaitOptions): Promise<Decision>;
  /**
   * Wraps `fn` so every call is limited first (docs/functions.md). A synchronous function on
   * the memory store stays synchronous; otherwise calls return a promise. `this` is preserved.
   */
  wrap<F extends AnyFunction, V = never, M extends OnLimitedMode = "throw">(
    fn: F,
    options?: WrapOptions<F, V, M>,
  ): Wrapped<F, M, V, this["canConsumeSync"]>;
  /** Where this limiter's events go (the `events` option, or its own hub). */
  readonly events: EventHub;
  /** Names the limiter in events and metrics. */
  readonly name: string;
  /** Adds an event listener to `events`; returns the function that removes it. */
  on<K extends ThrottleEventType>(type: K, listener: EventListener<K>): () => void;
  /**
   * Counts so far (ratethrottle's get_metrics): per rule and policy, recent violations, top
   * offenders, store latency. Needs the `metrics` option; throws a ConfigError without it.
   */
  metrics(): MetricsSnapshot;
  /** Starts the counts again from zero. */
  resetMetrics(): void;
}

const LIMITER_KEYS = [
  "policies",
  "store",
  "prefix",
  "clock",
  "timers",
  "events",
  "name",
  "metrics",
  "ban",
  "logger",
];
const NAME_FORM = "1 to 64 characters of letters, digits, _ . : -";

/**
 * The longest key a limiter accepts, in UTF-16 code units (`key.length`), the same bound the
 * HTTP layer puts on identity keys. It bounds the memory store's bytes, not only its keys: at
 * most about maxKeys × 2 KiB of key text (docs/memory-store.md has the worst case). A longer
 * key is refused with a ConfigError (a rejected promise from the async methods).
 */
export const MAX_KEY_LENGTH = 1024;
const KEY_FORM = `a string of at most ${MAX_KEY_LENGTH} characters (UTF-16 code units)`;
const BLOCK_FORM = `a duration of at most 10 years (${MAX_POLICY_MS} ms): ${DURATION_FORM}`;

/**
 * Builds a limiter. Options are validated here, all at once: a bad option throws one
 * ConfigError listing every problem.
 *
 * @example
 * const limiter = createLimiter({ policies: ["10/s", "1000/h"] });
 * const d = await limiter.consume(`user:${id}`);
 * if (!d.allowed) return tooManyRequests(d.retryAfterMs);
 *
 * On the memory store (no `store`, or a MemoryStore) the limiter is typed `SyncLimiter`:
 * consumeSync never throws SyncUnsupportedError, and wrap keeps a synchronous function's type.
 */
export function createLimiter(options: LimiterOptions & { store?: MemoryStore }): SyncLimiter;
export function createLimiter(options: LimiterOptions): Limiter;
export function createLimiter(options: LimiterOptions): Limiter {
  const problems = new ProblemList();
  if (typeof options !== "object" || options === null) {
    throw new ConfigError([
      {
        option: "options",
        received: options,
        expected: "an object { policies, store?, prefix?, clock?, timers? }",
      },
    ]);
  }
  problems.unknownKeys(options, LIMITER_KEYS);
  let policies: Policy[] = [];
  try {
    policies = parsePolicies(options.policies);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const p of error.problems) problems.add(p.option, p.received, p.expected);
  }
  const { prefix, store } = checkPlacement(options, "tk", problems);
  const timers = checkTimers(options.timers, problems);
  const events = checkEvents(options.events, problems);
  if (options.name !== undefined && !isName(options.name))
    problems.add("name", options.name, NAME_FORM);
  const m = options.metrics;
  if (m !== undefined && typeof m !== "boolean" && (typeof m !== "object" || m === null))
    problems.add("metrics", m, "true, false or the metrics options { store?, ... }");
  const ban = checkBan(options.ban, "ban", problems);
  const logger = resolveLogger(options.logger);
  if (logger === undefined) problems.add("logger", options.logger, LOGGER_FORM);
  problems.throwIfAny();
  const limiter = new RateLimiter(
    policies,
    store,
    prefix,
    options.clock,
    timers,
    events,
    options.name ?? prefix,
  );
  if (ban !== undefined) limiter.useBan(ban, logger!);
  if (m !== undefined && m !== false) {
    limiter.collector = createMetrics(events, {
      ...(options.clock !== undefined ? { clock: options.clock } : {}),
      ...(options.timers !== undefined ? { timers: options.timers } : {}),
      ...(m === true ? {} : m),
    });
  }
  return limiter;
}

/** Checks an `events` option; undefined gets a hub of its own. */
export function checkEvents(option: unknown, problems: ProblemList): EventHub {
  if (option === undefined) return createEvents();
  if (
    typeof option !== "object" ||
    option === null ||
    typeof (option as { emit?: unknown }).emit !== "function" ||
    typeof (option as { on?: unknown }).on !== "function"
  ) {
    problems.add("events", option, "an EventHub from createEvents()");
    return createEvents();
  }
  return option as EventHub;
}

function isName(v: unknown): v is string {
  return typeof v === "string" && /^[\w.:-]{1,64}$/.test(v);
}

class RateLimiter implements Limiter {
  private readonly binding: StoreBinding;
  readonly canConsumeSync: boolean;

  constructor(
    readonly policies: readonly Policy[],
    readonly store: Store,
    readonly prefix: string,
    private readonly clock: (() => number) | undefined,
    private readonly timers: Timers,
    readonly events: EventHub,
    readonly name: string,
  ) {
    this.binding = store.bind(prefix, policies);
    this.canConsumeSync = this.binding.consumeSync !== undefined;
    store.observe?.(events);
  }

  /** The `ban` option's counter of refusals; undefined without one (nothing per request). */
  private ban: Ban | undefined;

  useBan(spec: BanSpec, logger: Logger): void {
    this.ban = new Ban(this.store, this.prefix, spec, this.binding, this.events, logger, this.name);
  }

  /** The `metrics` option's collector (set by createLimiter). */
  collector: Metrics | undefined;

  on<K extends ThrottleEventType>(type: K, listener: EventListener<K>): () => void {
    return this.events.on(type, listener);
  }

  metrics(): MetricsSnapshot {
    return requireMetrics(this.collector).snapshot();
  }

  resetMetrics(): void {
    requireMetrics(this.collector).reset();
  }

  /** Decisions on an in-process store since it was created, for sampling their timings. */
  private sampled = 0;

  // Built on the first waitFor: most limiters never wait.
  private waiters: WaitQueues | undefined;

  waitFor(key: string, options?: WaitOptions): Promise<Decision> {
    this.waiters ??= new WaitQueues(this, this.timers);
    return this.waiters.waitFor(key, options);
  }

  wrap<F extends AnyFunction, V = never, M extends OnLimitedMode = "throw">(
    fn: F,
    options?: WrapOptions<F, V, M>,
  ): Wrapped<F, M, V, this["canConsumeSync"]> {
    return wrapFunction(this, fn, options);
  }

  consume(key: string, options?: ConsumeOptions): Promise<Decision> {
    // The common call has no options: cost 1 needs no validation.
    const cost = options === undefined ? 1 : (options.cost ?? 1);
    if (!isKey(key) || (options !== undefined && !isUnits(cost))) {
      return Promise.reject(callError(key, cost, "cost"));
    }
    const now = this.clock === undefined ? undefined : this.clock();
    // Nobody listening and no ban: not one extra step (issue 17 asks for ≥ 99% of bench:core).
    if (this.ban === undefined && !this.events.active) return this.binding.consume(key, cost, now);
    // An in-process store decides synchronously: emit at once and answer with a settled
    // promise, as its own consume would, rather than add a reaction per decision.
    if (this.canConsumeSync) {
      try {
        return Promise.resolve(this.decideSync(key, cost, now));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const timing = this.events.active && this.events.timing;
    const start = timing ? performance.now() : 0;
    return this.binding.consume(key, cost, now).then((d) => {
      const ms = timing ? performance.now() - start : undefined;
      const ban = this.ban;
      if (ban === undefined || !countsForBan(d)) {
        this.report(key, cost, now, d, ms);
        return d;
      }
      // A refusal: counted towards the ban (its store calls happen on refusals only).
      return ban.count(key, now, d).then((b) => {
        this.report(key, cost, now, b, ms);
        if (b !== d) ban.announce(key, now);
        return b;
      });
    });
  }

  /** Emits a decision's events when anyone listens. */
  private report(
    key: string,
    cost: number,
    now: number | undefined,
    d: Decision,
    ms: number | undefined,
  ): void {
    if (this.events.active) {
      emitDecision(this.events, now ?? wallNow(), this.name, key, cost, d, false, ms);
    }
  }

  consumeSync(key: string, options?: ConsumeOptions): Decision {
    const cost = options?.cost ?? 1;
    if (!isKey(key) || !isUnits(cost)) throw callError(key, cost, "cost");
    const binding = this.binding;
    if (binding.consumeSync === undefined) throw new SyncUnsupportedError(this.store.name);
    const now = this.clock?.();
    if (this.ban === undefined && !this.events.active) return binding.consumeSync(key, cost, now);
    return this.decideSync(key, cost, now);
  }

  /**
   * consumeSync with someone listening or a ban: decide, count a refusal towards the ban, then
   * emit the decision's events (and the ban's, after the refusal that started it).
   */
  private decideSync(key: string, cost: number, now: number | undefined): Decision {
    // An in-process store's decisions are timed one in SAMPLE_EVERY: two clock reads cost ~70 ns
    // each on a VM, a third of a memory-store decision, for a latency that sits in the lowest
    // bucket anyway (bench/results/observe-overhead.md). A sample keeps the histogram's shape.
    // `active` read once: a getter over the hub's listeners and diagnostics channels.
    const events = this.events;
    const active = events.active;
    const timing = active && events.timing && this.sampled++ % SAMPLE_EVERY === 0;
    const start = timing ? performance.now() : 0;
    const decided = this.binding.consumeSync!(key, cost, now);
    const ms = timing ? performance.now() - start : undefined;
    const ban = this.ban;
    const d =
      ban !== undefined && countsForBan(decided) ? ban.countSync(key, now, decided) : decided;
    // wallNow: the time the memory store itself decided at, without a second clock read.
    if (active) emitDecision(events, now ?? wallNow(), this.name, key, cost, d, false, ms);
    if (d !== decided) ban!.announce(key, now);
    return d;
  }

  peek(key: string, options?: ConsumeOptions): Promise<Decision> {
    const cost = options?.cost ?? 1;
    if (!isKey(key) || !isUnits(cost)) return Promise.reject(callError(key, cost, "cost"));
    return this.binding.peek(key, cost, this.clock?.());
  }

  refund(key: string, amount = 1): Promise<void> {
    if (!isKey(key) || !isUnits(amount)) return Promise.reject(callError(key, amount, "amount"));
    return this.binding.refund(key, amount, this.clock?.());
  }

  reset(key: string): Promise<void> {
    if (!isKey(key)) return Promise.reject(callError(key, 0, "key"));
    if (this.ban === undefined) return this.binding.reset(key);
    return Promise.all([this.binding.reset(key), this.ban.reset(key)]).then(() => {});
  }

  block(key: string, duration: Duration): Promise<void> {
    const ms = parseDuration(duration);
    if (!isKey(key)) return Promise.reject(callError(key, 0, "key"));
    if (ms === undefined || ms > MAX_POLICY_MS) {
      return Promise.reject(
        new ConfigError([{ option: "block(duration)", received: duration, expected: BLOCK_FORM }]),
      );
    }
    return this.binding.block(key, ms, this.clock?.());
  }

  unblock(key: string): Promise<void> {
    if (!isKey(key)) return Promise.reject(callError(key, 0, "key"));
    if (this.ban === undefined) return this.binding.unblock(key);
    return Promise.all([this.binding.unblock(key), this.ban.unblock(key)]).then(() => {});
  }
}

/** One in-process decision in this many is timed (`durationMs`) when timings are wanted. */
export const SAMPLE_EVERY = 32;

function isKey(key: unknown): key is string {
  return typeof key === "string" && key.length <= MAX_KEY_LENGTH;
}

function isUnits(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

function callError(key: unknown, units: unknown, what: string): ConfigError {
  if (!isKey(key)) {
    const received = typeof key === "string" ? `a string of ${key.length} characters` : key;
    return new ConfigError([{ option: "key", received, expected: KEY_FORM }]);
  }
  return new ConfigError([{ option: what, received: units, expected: "a whole number ≥ 0" }]);
}

/**
 * The options every limiter factory shares (prefix, clock, store), checked one way: a missing
 * store means the memory store; only an absent store does (`store: null` is a mistake).
 */
export function checkPlacement(
  options: { prefix?: unknown; clock?: unknown; store?: unknown },
  defaultPrefix: string,
  problems: ProblemList,
): { prefix: string; store: Store } {
  const prefix = options.prefix ?? defaultPrefix;
  if (typeof prefix !== "string" || prefix.length === 0 || prefix.length > 128) {
    problems.add("prefix", options.prefix, "a string of 1 to 128 characters");
  }
  if (options.clock !== undefined && typeof options.clock !== "function") {
    problems.add("clock", options.clock, "a function returning the time in ms");
  }
  const store = options.store === undefined ? memoryStore() : options.store;
  if (
    typeof store !== "object" ||
    store === null ||
    typeof (store as { bind?: unknown }).bind !== "function"
  ) {
    problems.add("store", options.store, "a Store such as memoryStore() or redisStore({ client })");
  }
  return { prefix: prefix as string, store: store as Store };
}
