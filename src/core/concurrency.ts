import type { Decision, PolicyDecision } from "./decision.js";
import { type Duration, parseTimerDuration, TIMER_DURATION_FORM } from "./duration.js";
import { ConfigError, ProblemList } from "./errors/config-error.js";
import { checkPlacement, MAX_KEY_LENGTH } from "./limiter.js";
import { MAX_LIMIT, type Policy } from "./policy.js";
import type { ConcurrencyAnswer, ConcurrencyBinding, Store } from "./store.js";

export type ConcurrencyLimiterOptions = {
  /** Most leases held at once per key: a whole number ≥ 1. */
  max: number;
  /**
   * How long a lease lives unless released or renewed (ms or "30s", at most 24 days). A
   * process that dies holding leases frees them after this long; holders of long-lived things
   * (a socket, a stream) renew before it passes.
   */
  leaseMs: Duration;
  /** Where leases live; it must support leases (memoryStore() and redisStore() do). @default memoryStore() */
  store?: Store;
  /** Namespace in the store; limiters with the same prefix share leases per key. @default "tkc" */
  prefix?: string;
  /** Clock in ms; when omitted the store uses its own time (Date.now(), or Redis TIME). */
  clock?: () => number;
};

/**
 * A slot held by one caller. Plain data: keep it, pass it to `release` or `renew`. Only `key`
 * and `id` identify it, so an older copy of a renewed lease releases it just as well.
 */
export type Lease = {
  readonly key: string;
  readonly id: string;
  /** When the lease expires unless renewed, in the store's clock (the limiter's `clock` if given). */
  readonly expiresAt: number;
};

/** `acquire`'s answer: a Decision (for the HTTP layer, headers, metrics) and, when allowed, the lease. */
export type AcquireResult =
  | { readonly allowed: true; readonly decision: Decision; readonly lease: Lease }
  | { readonly allowed: false; readonly decision: Decision; readonly lease: undefined };

export type AcquireOptions = {
  /**
   * Gives up waiting for the store: the promise rejects with the signal's reason, and a lease
   * the store grants after that is released at once (it never holds a slot nobody owns).
   */
  signal?: AbortSignal;
};

export interface ConcurrencyLimiter {
  readonly max: number;
  readonly leaseMs: number;
  readonly prefix: string;
  readonly store: Store;
  /**
   * Takes a slot for `key` if fewer than `max` live leases are held. A refusal is data:
   * `allowed: false`, `decision.reason` "limited" (or "degraded" when the store is down and
   * fails closed), `decision.retryAfterMs` the wait until the earliest held lease expires.
   */
  acquire(key: string, options?: AcquireOptions): Promise<AcquireResult>;
  /**
   * Gives the slot back. True when this call freed a live lease; false (and nothing changes)
   * when it was already released, has expired, or the store could not be reached (then the
   * lease frees itself at `expiresAt`). Never frees another holder's slot; never rejects for
   * a store outage.
   */
  release(lease: Lease): Promise<boolean>;
  /**
   * Extends a live lease to now + leaseMs. Resolves to the renewed lease (same key and id), or
   * `false` when the lease is no longer held (released, or expired: its slot may be someone
   * else's now). Store outage: per onStoreError (docs/concurrency.md).
   */
  renew(lease: Lease): Promise<Lease | false>;
  /** Live leases held for `key` now (for tests and metrics). */
  inFlight(key: string): Promise<number>;
}

const KNOWN = ["max", "leaseMs", "store", "prefix", "clock"];
const KEY_FORM = `a string of at most ${MAX_KEY_LENGTH} characters (UTF-16 code units)`;
const LEASE_FORM = "a lease from acquire(): { key, id, expiresAt }";

/**
 * Builds a concurrency limiter: at most `max` things in flight per key, across every process
 * sharing the store. Options are validated here, all at once (one ConfigError).
 *
 * @example
 * const slots = createConcurrencyLimiter({ max: 3, leaseMs: "30s" });
 * const r = await slots.acquire(`user:${id}`);
 * if (!r.allowed) return busy(r.decision.retryAfterMs);
 * try { await work(); } finally { await slots.release(r.lease); }
 */
export function createConcurrencyLimiter(options: ConcurrencyLimiterOptions): ConcurrencyLimiter {
  if (typeof options !== "object" || options === null) {
    throw new ConfigError([
      {
        option: "options",
        received: options,
        expected: "an object { max, leaseMs, store?, prefix?, clock? }",
      },
    ]);
  }
  const problems = new ProblemList();
  problems.unknownKeys(options, KNOWN);
  const { max } = options;
  if (typeof max !== "number" || !Number.isSafeInteger(max) || max < 1 || max > MAX_LIMIT) {
    problems.add("max", max, `a whole number from 1 to ${MAX_LIMIT}`);
  }
  const leaseMs = parseTimerDuration(options.leaseMs);
  if (leaseMs === undefined) problems.add("leaseMs", options.leaseMs, TIMER_DURATION_FORM);
  const { prefix, store } = checkPlacement(options, "tkc", problems);
  if (
    typeof store === "object" &&
    store !== null &&
    typeof store.bind === "function" &&
    typeof store.concurrency !== "function"
  ) {
    problems.add(
      "store",
      `the "${String(store.name)}" store`,
      "a store that keeps leases (implements concurrency(namespace)), e.g. memoryStore() or redisStore({ client })",
    );
  }
  problems.throwIfAny();
  return new Slots(max, leaseMs!, prefix, store, options.clock);
}

class Slots implements ConcurrencyLimiter {
  private readonly binding: ConcurrencyBinding;
  private readonly policy: Policy;

  constructor(
    readonly max: number,
    readonly leaseMs: number,
    readonly prefix: string,
    readonly store: Store,
    private readonly clock: (() => number) | undefined,
  ) {
    this.binding = store.concurrency!(prefix);
    // The cap as a policy, so a Decision names it like any other: limit = max, window = leaseMs.
    this.policy = Object.freeze({
      name: "concurrency",
      limit: max,
      windowMs: leaseMs,
      algorithm: "fixed-window",
      burst: max,
      blockForMs: 0,
      mode: "reject",
      maxDelayMs: 0,
      id: `cc:${max}:${leaseMs}`,
    });
  }

  acquire(key: string, options?: AcquireOptions): Promise<AcquireResult> {
    if (!isKey(key)) return Promise.reject(keyError(key));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const asked = this.binding
      .acquire(key, this.max, this.leaseMs, this.clock?.())
      .then((a) => this.result(key, a));
    if (signal === undefined) return asked;
    return new Promise<AcquireResult>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      asked.then(
        (r) => {
          signal.removeEventListener("abort", onAbort);
          // Granted after the caller gave up: nobody will release it, so release it now.
          if (signal.aborted && r.allowed) void this.release(r.lease);
          resolve(r);
        },
        (error: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      );
    });
  }

  release(lease: Lease): Promise<boolean> {
    if (!isLease(lease)) return Promise.reject(leaseError(lease));
    return this.binding.release(lease.key, lease.id, this.clock?.());
  }

  renew(lease: Lease): Promise<Lease | false> {
    if (!isLease(lease)) return Promise.reject(leaseError(lease));
    return this.binding
      .renew(lease.key, lease.id, this.leaseMs, this.clock?.())
      .then((expiresAt) =>
        expiresAt === undefined ? false : { key: lease.key, id: lease.id, expiresAt },
      );
  }

  inFlight(key: string): Promise<number> {
    if (!isKey(key)) return Promise.reject(keyError(key));
    return this.binding.inFlight(key, this.clock?.());
  }

  private result(key: string, a: ConcurrencyAnswer): AcquireResult {
    const remaining = a.granted ? Math.max(0, this.max - a.inFlight) : 0;
    const entry: PolicyDecision = {
      policy: this.policy,
      allowed: a.granted,
      limit: this.max,
      remaining,
      resetMs: a.resetMs,
      retryAfterMs: a.retryAfterMs,
    };
    // Field for field the shape of every other Decision (decision.ts), plain and complete.
    const decision: Decision = {
      allowed: a.granted,
      limit: this.max,
      remaining,
      resetMs: a.resetMs,
      retryAfterMs: a.retryAfterMs,
      reason: a.reason,
      policy: this.policy,
      policies: [entry],
      delayMs: 0,
    };
    return a.granted
      ? { allowed: true, decision, lease: { key, id: a.id, expiresAt: a.expiresAt } }
      : { allowed: false, decision, lease: undefined };
  }
}

function isKey(key: unknown): key is string {
  return typeof key === "string" && key.length <= MAX_KEY_LENGTH;
}

function isLease(lease: unknown): lease is Lease {
  return (
    typeof lease === "object" &&
    lease !== null &&
    isKey((lease as Lease).key) &&
    typeof (lease as Lease).id === "string"
  );
}

function keyError(key: unknown): ConfigError {
  const received = typeof key === "string" ? `a string of ${key.length} characters` : key;
  return new ConfigError([{ option: "key", received, expected: KEY_FORM }]);
}

function leaseError(lease: unknown): ConfigError {
  return new ConfigError([{ option: "lease", received: lease, expected: LEASE_FORM }]);
}
