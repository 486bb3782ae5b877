import type { Decision } from "./decision.js";
import type { EventHub } from "./events.js";
import type { ListStore } from "./list-store.js";
import type { MetricsBinding } from "./metrics/types.js";
import type { Policy } from "./policy.js";

/**
 * A place where limiter state lives. `bind` is called once per limiter with its namespace
 * (prefix) and policies; the binding then answers whole decisions, so a remote store can make
 * each one atomically in a single round trip.
 *
 * `now` is the caller's clock in ms, or undefined when the limiter has no injected clock: the
 * store then uses its own time (the memory store `Date.now()`, the Redis store server TIME).
 */
export interface Store {
  /** Short name for messages and metrics ("memory", "redis"). */
  readonly name: string;
  bind(namespace: string, policies: readonly Policy[]): StoreBinding;
  /**
   * Allow and deny lists of one namespace, kept where the counters are so a fleet sharing the
   * store shares them too. Optional: without it the HTTP layer keeps lists per process.
   */
  lists?(namespace: string): ListStore;
  /**
   * Leases of one namespace for createConcurrencyLimiter: a count of things in flight per key.
   * Optional: a limiter built on a store without it throws a ConfigError at construction.
   */
  concurrency?(namespace: string): ConcurrencyBinding;
  /**
   * Per-second metric buckets of one namespace, shared by the fleet (issue 17, item 2).
   * Optional: metrics with a `store` that lacks it throw a ConfigError.
   */
  metrics?(namespace: string): MetricsBinding;
  /**
   * Adds a hub that store-level events (`degraded`, `recovered`) go to. Every limiter built on
   * the store calls it with its own hub; adding one twice keeps it once.
   */
  observe?(events: EventHub): void;
  /** Releases timers or connections the store itself owns (never a user's client). */
  close?(): Promise<void>;
}

export interface StoreBinding {
  consume(key: string, cost: number, now: number | undefined): Promise<Decision>;
  /** What consume would answer for `cost`, charging nothing; remaining is the current one. */
  peek(key: string, cost: number, now: number | undefined): Promise<Decision>;
  refund(key: string, amount: number, now: number | undefined): Promise<void>;
  reset(key: string): Promise<void>;
  block(key: string, ms: number, now: number | undefined): Promise<void>;
  unblock(key: string): Promise<void>;
  /** Synchronous twin of consume, for in-process stores; absent on remote ones. */
  consumeSync?(key: string, cost: number, now: number | undefined): Decision;
  peekSync?(key: string, cost: number, now: number | undefined): Decision;
  /** Synchronous twins of block and reset (a `ban` started by consumeSync); in-process only. */
  blockSync?(key: string, ms: number, now: number | undefined): void;
  resetSync?(key: string): void;
}

/**
 * A store's answer to one acquire. Times are in the store's clock (the caller's `now` when
 * given). `retryAfterMs` is 0 when granted; `resetMs` is the wait until no lease is held.
 */
export type ConcurrencyAnswer = {
  readonly granted: boolean;
  /** "ok" or "limited", or "degraded" when the store could not decide (onStoreError). */
  readonly reason: "ok" | "limited" | "degraded";
  /** The lease's id when granted (unique in the namespace), "" when refused. */
  readonly id: string;
  /** When the granted lease expires; the refusal's earliest held expiry (0 if unknown). */
  readonly expiresAt: number;
  /** Leases held for the key once this answer is made (the new one included). */
  readonly inFlight: number;
  readonly retryAfterMs: number;
  readonly resetMs: number;
};

/**
 * Leases per key in one namespace: a sorted set of lease ids by expiry, in effect. Expired
 * leases count for nothing. `max` and `leaseMs` come with each call, so limiters sharing a
 * namespace share the count.
 */
export interface ConcurrencyBinding {
  acquire(
    key: string,
    max: number,
    leaseMs: number,
    now: number | undefined,
  ): Promise<ConcurrencyAnswer>;
  /** True when this call freed a live lease; false when it was already released or expired. */
  release(key: string, id: string, now: number | undefined): Promise<boolean>;
  /** The lease's new expiry (now + leaseMs), or undefined when it is no longer held. */
  renew(
    key: string,
    id: string,
    leaseMs: number,
    now: number | undefined,
  ): Promise<number | undefined>;
  /** Live leases held for the key. */
  inFlight(key: string, now: number | undefined): Promise<number>;
}
