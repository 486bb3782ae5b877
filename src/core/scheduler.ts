import type { ConcurrencyLimiter } from "./concurrency.js";
import type { Duration } from "./duration.js";
import { ConfigError, ProblemList } from "./errors/config-error.js";
import type { Limiter } from "./limiter.js";
import { JobScheduler } from "./scheduler-engine.js";
import { isKey, KEY_FORM } from "./scheduler-queue.js";
import { checkTimers, type Timers } from "./timers.js";

export type SchedulerOptions = {
  /** The rate every job is admitted by (`limiter.waitFor(key, { cost, signal })`). */
  limiter: Limiter;
  /**
   * How many jobs may run at once. A number: at most that many in this process, all keys
   * together (as p-queue and bottleneck count). A ConcurrencyLimiter: at most its `max` per key
   * across every process sharing its store; each running job holds a lease on the job's key,
   * released when the job settles and renewed every `leaseMs / 2` while it runs.
   * @default no cap (the rate alone decides)
   */
  concurrency?: number | ConcurrencyLimiter;
  /** The limiter key jobs charge unless `schedule(fn, { key })` names another. @default "scheduler" */
  key?: string;
  /** Most jobs waiting to start (all keys); one more is refused at once with RateLimitedError. @default 10000 */
  maxQueue?: number;
  /** Timers for lease renewals and slot re-checks (tests pass manualClock().timers). @default the host's */
  timers?: Timers;
};

export type ScheduleOptions = {
  /** Higher runs first; equal priorities run in the order scheduled (p-queue's scale). @default 0 */
  priority?: number;
  /**
   * While the job waits (queued, or for its slot or rate), aborting removes it: the promise
   * rejects with `signal.reason` and nothing is charged. Once the job runs, stopping it is the
   * job's own business: the signal is passed to it, `schedule((signal) => fetch(url, { signal }))`.
   */
  signal?: AbortSignal;
  /** Units of the rate this job spends; a whole number ≥ 0. @default 1 */
  cost?: number;
  /**
   * Longest wait from `schedule` to the job's start (ms or "30s"); past it the job is refused
   * with RateLimitedError, at once when the limiter shows it cannot start in time. Once
   * started, the job runs as long as it runs.
   * @default no limit
   */
  maxWaitMs?: Duration;
  /** The limiter key this job charges (and, with a ConcurrencyLimiter, holds a lease on). @default the scheduler's `key` */
  key?: string;
};

/** What `schedule` runs: called with the job's signal (undefined when none was given). */
export type ScheduledFn<T> = (signal: AbortSignal | undefined) => T | PromiseLike<T>;

export interface Scheduler {
  readonly limiter: Limiter;
  /** Jobs waiting to start: queued, or taking their slot and their rate. */
  readonly size: number;
  /** Jobs running: started, not yet settled. */
  readonly pending: number;
  /**
   * Runs `fn` once the rate and the concurrency allow it, and settles as `fn` does. Higher
   * priority first, first come first served within a priority. Rejects without running `fn`
   * with RateLimitedError when the queue is full or the limiter refuses for good
   * (cost-exceeds-limit, or per the limiter's waitFor), with `signal.reason` when aborted
   * while waiting, with ConfigError for a bad option. Never throws synchronously.
   */
  schedule<T>(fn: ScheduledFn<T>, options?: ScheduleOptions): Promise<T>;
  /** Resolves once nothing waits or runs (and every slot taken has been given back). */
  idle(): Promise<void>;
}

const KNOWN = ["limiter", "concurrency", "key", "maxQueue", "timers"];
/**
 * Runs outbound work within a rate and a concurrency, waiting instead of failing: bottleneck's
 * job, exact fleet-wide when the limiter and the ConcurrencyLimiter share a Redis store.
 * Options are validated here, all at once (one ConfigError).
 *
 * @example
 * const limiter = createLimiter({
 *   policies: { limit: 100, window: "1s", algorithm: "sliding-log" },
 *   store: redisStore({ client }),
 * });
 * const vendor = createScheduler({ limiter, concurrency: 10 });
 * const user = await vendor.schedule((signal) => fetch(url, { signal }));
 */
export function createScheduler(options: SchedulerOptions): Scheduler {
  if (typeof options !== "object" || options === null) {
    throw new ConfigError([
      {
        option: "options",
        received: options,
        expected: "an object { limiter, concurrency?, key?, maxQueue?, timers? }",
      },
    ]);
  }
  const problems = new ProblemList();
  problems.unknownKeys(options, KNOWN);
  const { limiter, concurrency } = options;
  if (
    typeof limiter !== "object" ||
    limiter === null ||
    typeof limiter.waitFor !== "function" ||
    !Array.isArray(limiter.policies)
  ) {
    problems.add("limiter", limiter, "a Limiter from createLimiter()");
  }
  if (
    concurrency !== undefined &&
    !(typeof concurrency === "number" && Number.isSafeInteger(concurrency) && concurrency >= 1) &&
    !isConcurrencyLimiter(concurrency)
  ) {
    problems.add(
      "concurrency",
      concurrency,
      "a whole number ≥ 1 (jobs running in this process) or a ConcurrencyLimiter (per key, fleet-wide)",
    );
  }
  const key = options.key ?? "scheduler";
  if (!isKey(key)) problems.add("key", options.key, KEY_FORM);
  const maxQueue = options.maxQueue ?? 10_000;
  if (typeof maxQueue !== "number" || !Number.isSafeInteger(maxQueue) || maxQueue < 1) {
    problems.add("maxQueue", options.maxQueue, "a whole number ≥ 1");
  }
  const timers = checkTimers(options.timers, problems);
  problems.throwIfAny();
  return new JobScheduler(limiter, concurrency, key, maxQueue, timers);
}

function isConcurrencyLimiter(c: unknown): c is ConcurrencyLimiter {
  return (
    typeof c === "object" &&
    c !== null &&
    typeof (c as ConcurrencyLimiter).acquire === "function" &&
    typeof (c as ConcurrencyLimiter).release === "function" &&
    typeof (c as ConcurrencyLimiter).renew === "function" &&
    typeof (c as ConcurrencyLimiter).leaseMs === "number"
  );
}
