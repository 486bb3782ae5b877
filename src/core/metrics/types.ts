import type { Duration } from "../duration.js";
import type { ViolationEvent } from "../events.js";
import type { Store } from "../store.js";
import type { Timers } from "../timers.js";

/**
 * The contract of metrics (issue 17, item 2): counts per rule and policy, recent violations,
 * top offenders and store latency, collected by listening to an EventHub, and the fleet-wide
 * view assembled from per-second buckets in a shared store. Implemented in ./collector.ts and
 * ./fleet.ts; read by `limiter.metrics()`, throttlekit/prometheus, the CLI and the dashboard.
 */

/** What became of requests: each request counts once, under one outcome. */
export type Outcome = "allowed" | "limited" | "blocked" | "denied" | "degraded";
export const OUTCOMES: readonly Outcome[] = Object.freeze([
  "allowed",
  "limited",
  "blocked",
  "denied",
  "degraded",
]);

export type OutcomeCounts = {
  /** Every decision (= allowed + limited + blocked + denied + degraded). */
  readonly requests: number;
  readonly allowed: number;
  /** Refused by a policy: "limited" and "cost-exceeds-limit". */
  readonly limited: number;
  /** Refused while in a penalty box (`blockFor`, `block()`, a ban). */
  readonly blocked: number;
  /** Refused by the deny list (auto-blocks included). */
  readonly denied: number;
  /** Decided while the store was out (`onStoreError`), admitted or not. */
  readonly degraded: number;
  /** Refusals that a rule in shadow mode let through (also counted in limited / blocked). */
  readonly shadowed: number;
  /** (limited + blocked + denied) / requests, from 0 to 1; 0 when there was no request. */
  readonly blockRate: number;
};

/** One rule's counts, and per binding policy (the policy named by each Decision's `policy`). */
export type RuleMetrics = OutcomeCounts & {
  readonly policies: Readonly<Record<string, OutcomeCounts>>;
};

/**
 * A heavy hitter: a key among the most refused ones, from a Space-Saving sketch of fixed size.
 * `count` may overestimate the true count by at most `error` (never underestimates).
 */
export type Offender = { readonly key: string; readonly count: number; readonly error: number };

/** Store latency: a fixed-bucket histogram of `durationMs` (the store's share of a decision). */
export type LatencySummary = {
  readonly count: number;
  readonly sumMs: number;
  readonly maxMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  /** Cumulative counts: decisions that took at most `leMs` (the last bucket is Infinity). */
  readonly buckets: readonly { readonly leMs: number; readonly count: number }[];
};

/** What `metrics()` returns: plain data (spread, log, JSON.stringify it). */
export type MetricsSnapshot = {
  /** When counting began (creation or the last reset), ms since the epoch. */
  readonly since: number;
  /** When this snapshot was taken. */
  readonly at: number;
  readonly total: OutcomeCounts;
  readonly rules: Readonly<Record<string, RuleMetrics>>;
  /** The latest violations, oldest first (a ring of `recentViolations` entries). */
  readonly recentViolations: readonly ViolationEvent[];
  /** The most refused keys, most first (at most `topOffenders`). */
  readonly topOffenders: readonly Offender[];
  readonly storeLatency: LatencySummary;
  /** Store outages seen (degraded events), and whether one is going on now. */
  readonly outages: { readonly count: number; readonly ongoing: boolean };
};

export type MetricsOptions = {
  /** Violations kept for `recentViolations`. @default 100 */
  recentViolations?: number;
  /** Size of the heavy-hitters sketch (memory is fixed by it, whatever the number of clients). @default 100 */
  topOffenders?: number;
  /**
   * Share counts with the fleet: every `flushEvery` the counts of the past seconds are added to
   * per-second buckets in this store (it must implement `metrics`), kept `retention`.
   * @default undefined (this process only)
   */
  store?: Store;
  /** Namespace of the fleet buckets. @default "tk" */
  prefix?: string;
  /** @default "1s" */
  flushEvery?: Duration;
  /** How long per-second buckets are kept in the store. @default "1h" */
  retention?: Duration;
  /** Clock in ms (tests pass a manual clock). @default Date.now */
  clock?: () => number;
  /**
   * Timers for the fleet flush (tests pass a manual clock's `timers`). The flush timer is
   * unref'd where the host allows: it never keeps a process alive.
   * @default the host's setTimeout / clearTimeout
   */
  timers?: Timers;
};

/** A metrics collector listening to a hub. */
export interface Metrics {
  snapshot(): MetricsSnapshot;
  /** Starts counting again from zero (ratethrottle's reset_metrics). */
  reset(): void;
  /** Stops listening; flushes what is left to the fleet store. */
  close(): Promise<void>;
}

/** Counts of one second of the whole fleet, read back from the store. */
export type FleetSecond = {
  /** Epoch second. */
  readonly second: number;
  readonly total: OutcomeCounts;
  readonly rules: Readonly<Record<string, RuleMetrics>>;
};

export type FleetMetrics = {
  readonly from: number;
  readonly to: number;
  readonly total: OutcomeCounts;
  readonly rules: Readonly<Record<string, RuleMetrics>>;
  /** One entry per second with any count, oldest first (for rates and sparklines). */
  readonly seconds: readonly FleetSecond[];
  /** The most refused keys over the span, as the processes' sketches reported them. */
  readonly topOffenders: readonly Offender[];
};

/**
 * Per-second buckets of one namespace in a store. Fields are opaque strings (the collector's
 * encoding of rule, policy and outcome, or an offender); values are counts to add.
 */
export interface MetricsBinding {
  /** Adds `counts` to the bucket of `second`; the bucket expires `retentionMs` after it. */
  record(second: number, counts: ReadonlyMap<string, number>, retentionMs: number): Promise<void>;
  /** The buckets of seconds from..to (inclusive) that exist, oldest first. */
  read(
    fromSecond: number,
    toSecond: number,
  ): Promise<{ second: number; counts: Map<string, number> }[]>;
}
