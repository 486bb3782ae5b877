import { wallNow } from "./clock.js";
import { type Decision, verdictFree } from "./decision.js";
import { ConfigError, ProblemList } from "./errors/config-error.js";
import { SyncUnsupportedError } from "./errors/sync-unsupported-error.js";
import { type ConsumeOptions, checkPlacement, type Limiter, MAX_KEY_LENGTH } from "./limiter.js";
import type { MemoryStore } from "./memory-store.js";
import { MAX_LIMIT, type Policy, parsePolicies } from "./policy.js";
import {
  type BucketInput,
  combineBuckets,
  MAX_BUCKETS,
  parseBuckets,
  uncharged,
} from "./registry-buckets.js";
import type { Store, StoreBinding } from "./store.js";
import { type ThrottleDecorator, type ThrottleOptions, throttle } from "./throttle.js";
import { checkTimers, type Timers } from "./timers.js";
import { type WaitOptions, WaitQueues } from "./wait-for.js";
import {
  type AnyFunction,
  type OnLimitedMode,
  type WrapOptions,
  type Wrapped,
  wrapFunction,
} from "./wrap.js";

export { type BucketInput, MAX_BUCKETS, type TokenThrottlerBucket } from "./registry-buckets.js";

/** Options of createLimiterRegistry. */
export type LimiterRegistryOptions = {
  /**
   * The buckets of each identifier, as a plain object (token-throttler's dict configuration):
   * `{ hello_world: ["10/10s", "20/30s"] }`. A bucket is a policy ("10/10s", { limit, window,
   * algorithm? }) or token-throttler's own shape `{ replenish_time: 10, max_tokens: 10 }`
   * (seconds; a fixed window from the first call, as token-throttler refills).
   * @default {} (add identifiers later with add())
   */
  policies?: Readonly<Record<string, BucketInput | readonly BucketInput[]>>;
  /**
   * What consume answers for an identifier with no buckets: "throw" a ConfigError (option
   * "id"), as token-throttler raises KeyError; or "unlimited", an allowed decision with reason
   * "exempt" (token-throttler's IDENTIFIER_FAIL_SAFE). Nothing is stored for it either way.
   * @default "throw"
   */
  unknown?: "throw" | "unlimited";
  /** Where bucket state lives. @default memoryStore() */
  store?: Store;
  /** Namespace in the store. @default "tk-registry" */
  prefix?: string;
  /** Clock in ms, as createLimiter's (tests pass a manual clock). */
  clock?: () => number;
  /** Timers for waitFor and wrap's "wait", as createLimiter's. @default the host's */
  timers?: Timers;
  /** Most identifiers held at once; add() beyond it throws a ConfigError. @default 100_000 */
  maxIds?: number;
};

/** Options of `registry.wrap`: wrap's, with the identifier (`id`) or a `key` function giving one. */
export type RegistryWrapOptions<
  F extends AnyFunction,
  V = unknown,
  M extends OnLimitedMode = OnLimitedMode,
> = WrapOptions<F, V, M> & {
  /** The identifier every call consumes (token-throttler's `enable(id)`). Or give `key`. */
  id?: string;
};

/** Options of `registry.throttle(id, options)`: @throttle's, without `key` (the id is the key). */
export type RegistryThrottleOptions = Omit<ThrottleOptions, "key">;

/**
 * Identifiers, each with a set of named buckets (policies), added and removed at run time:
 * token-throttler's TokenThrottler. `consume(id)` passes only when every bucket of `id` does,
 * and charges all of them or none.
 */
export interface LimiterRegistry {
  /** True on the memory store: consumeSync works and wrapped functions stay synchronous. */
  readonly canConsumeSync: boolean;
  /** Identifiers held. */
  readonly size: number;
  /**
   * Adds buckets to `id` (one or several). A bucket is named by its policy's `name`, else its
   * canonical form ("10/10s"); adding a bucket whose name `id` already has replaces it. Counters
   * of the other buckets are kept. Throws a ConfigError for an invalid id or bucket.
   */
  add(id: string, buckets: BucketInput | readonly BucketInput[]): void;
  /**
   * Removes the bucket `name` of `id`, or all of its buckets; true when something was removed.
   * The removed bucket's counter is not erased: it expires on its own (re-adding the bucket
   * within its window finds it), so removing and adding cannot be used to reset a limit.
   */
  remove(id: string, name?: string): boolean;
  has(id: string): boolean;
  ids(): string[];
  /** The buckets of `id` (empty when it has none). */
  policies(id: string): readonly Policy[];
  /**
   * Decides for `id` against every bucket: allowed only if all allow, and then all are charged;
   * a refusal charges none. The Decision is the binding bucket's, with every bucket in
   * `policies`. Rejects with a ConfigError for an identifier with no buckets, unless `unknown`
   * is "unlimited".
   */
  consume(id: string, options?: ConsumeOptions): Promise<Decision>;
  /** consume, synchronously, on the memory store (SyncUnsupportedError elsewhere). */
  consumeSync(id: string, options?: ConsumeOptions): Decision;
  /** What consume would answer, charging nothing. */
  peek(id: string, options?: ConsumeOptions): Promise<Decision>;
  /** Gives back `amount` units to every bucket of `id`. */
  refund(id: string, amount?: number): Promise<void>;
  /** Forgets the counters of every bucket of `id`. */
  reset(id: string): Promise<void>;
  /** Waits until `id` is admitted and charged (limiter.waitFor's semantics and options). */
  waitFor(id: string, options?: WaitOptions): Promise<Decision>;
  /**
   * `limiter.wrap` against the registry: every call consumes `options.id` (or the identifier
   * `options.key` returns). token-throttler's `@throttler.enable("id")` on a function.
   */
  wrap<F extends AnyFunction, V = never, M extends OnLimitedMode = "throw">(
    fn: F,
    options: RegistryWrapOptions<F, V, M>,
  ): Wrapped<F, M, V, this["canConsumeSync"]>;
  /** `@throttle` against the registry for one identifier: token-throttler's `@enable("id")`. */
  throttle(id: string): ThrottleDecorator<this["canConsumeSync"], { onLimited: "throw" }>;
  throttle<O extends RegistryThrottleOptions>(
    id: string,
    options: O,
  ): ThrottleDecorator<this["canConsumeSync"], O>;
}

/** A registry on the memory store. */
export type SyncLimiterRegistry = LimiterRegistry & { readonly canConsumeSync: true };

const DEFAULT_MAX_IDS = 100_000;
const REGISTRY_KEYS = ["policies", "unknown", "store", "prefix", "clock", "timers", "maxIds"];
const ID_FORM = `a string of at most ${MAX_KEY_LENGTH} characters`;
const UNKNOWN_FORM =
  'an identifier added to the registry (add(id, buckets)), or a registry with unknown: "unlimited"';
/** The policy an "unlimited" decision names: nothing is counted against it. */
const UNLIMITED = parsePolicies({ limit: MAX_LIMIT, window: 1, name: "unlimited" });

/**
 * Builds a registry of identifiers and their buckets. Options are checked at once: one
 * ConfigError lists every problem (the dict configuration's included).
 *
 * @example
 * const registry = createLimiterRegistry({ policies: { hello_world: ["10/10s", "20/30s"] } });
 * const d = await registry.consume("hello_world"); // allowed while both buckets allow
 * registry.add("hello_world", "100/h");
 * registry.remove("hello_world", "10/10s");
 */
export function createLimiterRegistry(
  options?: LimiterRegistryOptions & { store?: MemoryStore },
): SyncLimiterRegistry;
export function createLimiterRegistry(options: LimiterRegistryOptions): LimiterRegistry;
export function createLimiterRegistry(options: LimiterRegistryOptions = {}): LimiterRegistry {
  if (typeof options !== "object" || options === null) {
    throw new ConfigError([
      { option: "options", received: options, expected: "an object { policies?, unknown?, ... }" },
    ]);
  }
  const problems = new ProblemList();
  problems.unknownKeys(options, REGISTRY_KEYS);
  const { prefix, store } = checkPlacement(options, "tk-registry", problems);
  const unknown = options.unknown ?? "throw";
  if (unknown !== "throw" && unknown !== "unlimited") {
    problems.add("unknown", options.unknown, '"throw" or "unlimited"');
  }
  const timers = checkTimers(options.timers, problems);
  const maxIds = options.maxIds ?? DEFAULT_MAX_IDS;
  if (!Number.isSafeInteger(maxIds) || maxIds < 1) {
    problems.add("maxIds", options.maxIds, "a whole number ≥ 1");
  }
  const initial = new Map<string, Policy[]>();
  const dict = options.policies ?? {};
  if (typeof dict !== "object" || dict === null || Array.isArray(dict)) {
    problems.add("policies", options.policies, "an object { identifier: bucket or [buckets] }");
  } else {
    for (const [id, buckets] of Object.entries(dict)) {
      const where = `policies.${id}`;
      if (id.length > MAX_KEY_LENGTH) problems.add(where, id, `an identifier that is ${ID_FORM}`);
      const parsed = parseBuckets(buckets, where, problems);
      if (parsed !== undefined) initial.set(id, parsed);
    }
    if (initial.size > maxIds) {
      problems.add("policies", `${initial.size} identifiers`, `at most maxIds (${maxIds})`);
    }
  }
  problems.throwIfAny();
  const registry = new Registry(store, prefix, unknown, options.clock, timers, maxIds);
  for (const [id, policies] of initial) registry.set(id, policies);
  return registry;
}

type Bucket = { readonly policy: Policy; readonly binding: StoreBinding };

class Registry implements LimiterRegistry {
  readonly canConsumeSync: boolean;
  /** id → its buckets; an array replaced (never edited) on add/remove, so a consume in flight keeps a consistent set. */
  private readonly entries = new Map<string, readonly Bucket[]>();
  private waiters: WaitQueues | undefined;

  constructor(
    private readonly store: Store,
    private readonly prefix: string,
    private readonly unknown: "throw" | "unlimited",
    private readonly clock: (() => number) | undefined,
    private readonly timers: Timers,
    private readonly maxIds: number,
  ) {
    // Asked of a binding, as the Limiter does: a store either has the in-process path or not.
    const probe = store.bind(prefix, UNLIMITED);
    this.canConsumeSync = probe.consumeSync !== undefined && probe.peekSync !== undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  add(id: string, buckets: BucketInput | readonly BucketInput[]): void {
    const problems = new ProblemList();
    if (!isId(id)) problems.add("add(id)", id, ID_FORM);
    const parsed = parseBuckets(buckets, "add(buckets)", problems);
    problems.throwIfAny();
    const merged = new Map((this.entries.get(id) ?? []).map((b) => [b.policy.name, b.policy]));
    for (const p of parsed!) merged.set(p.name, p);
    this.set(id, [...merged.values()]);
  }

  /** Gives `id` exactly these buckets (checked by the caller), within the registry's bounds. */
  set(id: string, policies: readonly Policy[]): void {
    if (!this.entries.has(id) && this.entries.size >= this.maxIds) {
      throw new ConfigError([
        {
          option: "add(id)",
          received: id,
          expected: `at most maxIds (${this.maxIds}) identifiers`,
        },
      ]);
    }
    if (policies.length > MAX_BUCKETS) {
      throw new ConfigError([
        {
          option: "add(buckets)",
          received: `${policies.length} buckets for ${JSON.stringify(id)}`,
          expected: `at most ${MAX_BUCKETS} buckets per identifier`,
        },
      ]);
    }
    // One binding per bucket policy, not per set: a bucket's counter lives under its own
    // policy, so adding or removing another bucket leaves it as it is.
    const buckets = policies.map((policy) => ({
      policy,
      binding: this.store.bind(this.prefix, [policy]),
    }));
    this.entries.set(id, Object.freeze(buckets));
  }

  remove(id: string, name?: string): boolean {
    const buckets = this.entries.get(id);
    if (buckets === undefined) return false;
    if (name === undefined) return this.entries.delete(id);
    const kept = buckets.filter((b) => b.policy.name !== name);
    if (kept.length === buckets.length) return false;
    if (kept.length === 0) this.entries.delete(id);
    else this.entries.set(id, Object.freeze(kept));
    return true;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  policies(id: string): readonly Policy[] {
    return (this.entries.get(id) ?? []).map((b) => b.policy);
  }

  consumeSync(id: string, options?: ConsumeOptions): Decision {
    const cost = costOf(options);
    const buckets = this.bucketsOf(id);
    if (buckets === undefined) return verdictFree(UNLIMITED, "exempt", true, 0);
    if (!this.canConsumeSync) throw new SyncUnsupportedError(this.store.name);
    const now = this.clock === undefined ? wallNow() : this.clock();
    const first = buckets[0]!.binding;
    if (buckets.length === 1) return first.consumeSync!(id, cost, now);
    // In process and synchronous, check-then-charge is atomic: no other call runs in between.
    const decisions = buckets.map((b) => b.binding.peekSync!(id, cost, now));
    if (decisions.every((d) => d.allowed)) {
      for (let i = 0; i < buckets.length; i++) {
        const d = buckets[i]!.binding.consumeSync!(id, cost, now);
        if (!d.allowed) {
          // Only a full store refuses what its peek allowed: undo the charges made so far
          // (the memory store refunds before its promise is even returned).
          for (let j = 0; j < i; j++) void buckets[j]!.binding.refund(id, cost, now);
          decisions[i] = d;
          return combineBuckets(decisions.map((x, j) => (j < i ? uncharged(x, cost) : x)));
        }
        decisions[i] = d;
      }
      return combineBuckets(decisions);
    }
    // Refused: charge nothing, but let each refusing bucket start its blockFor penalty.
    for (let i = 0; i < buckets.length; i++) {
      if (!decisions[i]!.allowed) decisions[i] = buckets[i]!.binding.consumeSync!(id, cost, now);
    }
    return combineBuckets(decisions);
  }

  consume(id: string, options?: ConsumeOptions): Promise<Decision> {
    if (this.canConsumeSync) {
      try {
        return Promise.resolve(this.consumeSync(id, options));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    let cost: number;
    let buckets: readonly Bucket[] | undefined;
    try {
      cost = costOf(options);
      buckets = this.bucketsOf(id);
    } catch (error) {
      return Promise.reject(error);
    }
    if (buckets === undefined) return Promise.resolve(verdictFree(UNLIMITED, "exempt", true, 0));
    const now = this.clock?.();
    if (buckets.length === 1) return buckets[0]!.binding.consume(id, cost, now);
    return this.consumeRemote(id, cost, now, buckets);
  }

  /**
   * A remote store answers each bucket atomically, not the set: every bucket is asked at once
   * (one round trip: the calls travel together), and when one refuses, the others' charges are
   * given back before the refusal is answered. Never an over-admission; a concurrent call may
   * briefly see those charges (a conservative error, only while a refusal is undone).
   */
  private async consumeRemote(
    id: string,
    cost: number,
    now: number | undefined,
    buckets: readonly Bucket[],
  ): Promise<Decision> {
    const decisions = await Promise.all(buckets.map((b) => b.binding.consume(id, cost, now)));
    if (decisions.every((d) => d.allowed)) return combineBuckets(decisions);
    if (cost > 0) {
      await Promise.all(
        decisions.map((d, i) =>
          // A failed refund leaves that bucket charged: the safe side of an outage.
          d.allowed ? buckets[i]!.binding.refund(id, cost, now).catch(() => {}) : undefined,
        ),
      );
    }
    return combineBuckets(decisions.map((d) => (d.allowed ? uncharged(d, cost) : d)));
  }

  async peek(id: string, options?: ConsumeOptions): Promise<Decision> {
    const cost = costOf(options);
    const buckets = this.bucketsOf(id);
    if (buckets === undefined) return verdictFree(UNLIMITED, "exempt", true, 0);
    const now = this.clock?.();
    return combineBuckets(await Promise.all(buckets.map((b) => b.binding.peek(id, cost, now))));
  }

  async refund(id: string, amount = 1): Promise<void> {
    costOf({ cost: amount });
    const buckets = this.bucketsOf(id);
    if (buckets === undefined) return;
    const now = this.clock?.();
    await Promise.all(buckets.map((b) => b.binding.refund(id, amount, now)));
  }

  async reset(id: string): Promise<void> {
    if (!isId(id)) throw new ConfigError([{ option: "id", received: id, expected: ID_FORM }]);
    await Promise.all((this.entries.get(id) ?? []).map((b) => b.binding.reset(id)));
  }

  waitFor(id: string, options?: WaitOptions): Promise<Decision> {
    // WaitQueues reads canConsumeSync, consume, consumeSync and refund: the registry's, by id.
    this.waiters ??= new WaitQueues(this as unknown as Limiter, this.timers);
    return this.waiters.waitFor(id, options);
  }

  wrap<F extends AnyFunction, V = never, M extends OnLimitedMode = "throw">(
    fn: F,
    options: RegistryWrapOptions<F, V, M>,
  ): Wrapped<F, M, V, this["canConsumeSync"]> {
    const { id, ...rest } = (options ?? {}) as RegistryWrapOptions<F, V, M>;
    if ((id === undefined) === (rest.key === undefined) || (id !== undefined && !isId(id))) {
      throw new ConfigError([
        {
          option: "options.id",
          received: id,
          expected: `${ID_FORM}, or a key function returning one (one of id and key)`,
        },
      ]);
    }
    const wrapOptions = id === undefined ? rest : { ...rest, key: () => id };
    return wrapFunction(this as unknown as Limiter, fn, wrapOptions as WrapOptions<F, V, M>);
  }

  throttle(id: string, options?: RegistryThrottleOptions): never {
    if (!isId(id)) {
      throw new ConfigError([{ option: "throttle(id)", received: id, expected: ID_FORM }]);
    }
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      throw new ConfigError([
        { option: "throttle(options)", received: options, expected: "an object" },
      ]);
    }
    // @throttle calls this registry's wrap with the id as the key.
    return throttle(this as unknown as Limiter, { ...options, key: () => id }) as never;
  }

  /** `id`'s buckets; undefined for an unknown id under "unlimited"; throws a ConfigError otherwise. */
  private bucketsOf(id: string): readonly Bucket[] | undefined {
    if (!isId(id)) throw new ConfigError([{ option: "id", received: id, expected: ID_FORM }]);
    const buckets = this.entries.get(id);
    if (buckets !== undefined || this.unknown === "unlimited") return buckets;
    throw new ConfigError([{ option: "id", received: id, expected: UNKNOWN_FORM }]);
  }
}

function isId(id: unknown): id is string {
  return typeof id === "string" && id.length <= MAX_KEY_LENGTH;
}

/** The cost of one call, checked as consume checks it. */
function costOf(options: ConsumeOptions | undefined): number {
  const cost = options === undefined ? 1 : (options.cost ?? 1);
  if (!Number.isSafeInteger(cost) || cost < 0) {
    throw new ConfigError([{ option: "cost", received: cost, expected: "a whole number ≥ 0" }]);
  }
  return cost;
}
