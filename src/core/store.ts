import type { Decision } from "./decision.js";
import type { ListStore } from "./list-store.js";
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
}
