import type { Decision } from "./decision.js";
import { type Duration, parseTimerDuration, TIMER_DURATION_FORM } from "./duration.js";
import { ConfigError, ProblemList } from "./errors/config-error.js";
import { RateLimitedError } from "./errors/rate-limited-error.js";
import type { ConsumeOptions } from "./limiter.js";

export type WaitOptions = {
  /** Units; a whole number ≥ 0. @default 1 */
  cost?: number;
  /**
   * Stops waiting: the promise rejects with `signal.reason` and nothing is charged (a charge
   * made while the signal fired is refunded).
   */
  signal?: AbortSignal;
  /**
   * Longest wait, from the call to the moment the caller may act. Rejects with
   * RateLimitedError as soon as the key's state shows it cannot be admitted in time, without
   * sleeping just to fail. A positive duration of at most 2^31 − 1 ms.
   * @default no limit
   */
  maxWaitMs?: Duration;
  /**
   * Most callers waiting on one key; one more is refused at once with RateLimitedError.
   * At most MAX_WAITERS.
   * @default 1000
   */
  maxQueue?: number;
};

/**
 * Most callers one limiter keeps waiting, over all keys: `maxQueue` bounds one key, this bounds
 * how many keys a flood of distinct identifiers can put to sleep (each waiter holds a pending
 * promise and a few hundred bytes). One more is refused at once with RateLimitedError.
 */
export const MAX_WAITERS = 100_000;
const DEFAULT_MAX_QUEUE = 1000;
const WAIT_KEYS = ["cost", "signal", "maxWaitMs", "maxQueue"];
const COST_ONE: ConsumeOptions = Object.freeze({ cost: 1 });

/** WaitOptions checked and resolved to their defaults. */
export type Parsed = {
  opts: ConsumeOptions;
  maxWaitMs: number | undefined;
  maxQueue: number;
  signal: AbortSignal | undefined;
};
/** A call without options: cost 1, no deadline, the default maxQueue. */
export const DEFAULTS: Parsed = {
  opts: COST_ONE,
  maxWaitMs: undefined,
  maxQueue: DEFAULT_MAX_QUEUE,
  signal: undefined,
};

/** When a caller arriving at `now` gives up, in the timers' time; Infinity without maxWaitMs. */
export function deadlineOf(parsed: Parsed, now: number): number {
  return parsed.maxWaitMs === undefined ? Number.POSITIVE_INFINITY : now + parsed.maxWaitMs;
}

/** The refusal of a caller that cannot be admitted within its maxWaitMs. */
export function tooLate(d: Decision, maxWaitMs: number | undefined): RateLimitedError {
  return new RateLimitedError(
    d,
    `rate limited (${d.reason}): cannot be admitted within maxWaitMs (${maxWaitMs} ms)`,
  );
}

/** The refusal of a caller that finds its key's queue (or the limiter's waiters) full. */
export function overflow(d: Decision, bound: string, size: number): RateLimitedError {
  return new RateLimitedError(
    d,
    `rate limited (${d.reason}): ${size} callers already wait on this ${bound === "maxQueue" ? "key" : "limiter"} (${bound})`,
  );
}

/** Checks waitFor's options all at once: the resolved options, or one ConfigError. */
export function parseOptions(options: WaitOptions): Parsed | ConfigError {
  const problems = new ProblemList();
  if (typeof options !== "object" || options === null) {
    return new ConfigError([
      {
        option: "waitFor(options)",
        received: options,
        expected: "an object { cost?, signal?, maxWaitMs?, maxQueue? }",
      },
    ]);
  }
  problems.unknownKeys(options, WAIT_KEYS, "waitFor");
  const cost = options.cost ?? 1;
  if (!Number.isSafeInteger(cost) || cost < 0) {
    problems.add("waitFor.cost", options.cost, "a whole number ≥ 0");
  }
  const maxWaitMs =
    options.maxWaitMs === undefined ? undefined : parseTimerDuration(options.maxWaitMs);
  if (options.maxWaitMs !== undefined && maxWaitMs === undefined) {
    problems.add("waitFor.maxWaitMs", options.maxWaitMs, TIMER_DURATION_FORM);
  }
  const maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
  if (!Number.isSafeInteger(maxQueue) || maxQueue < 1 || maxQueue > MAX_WAITERS) {
    problems.add("waitFor.maxQueue", options.maxQueue, `a whole number from 1 to ${MAX_WAITERS}`);
  }
  const signal = options.signal;
  if (signal !== undefined && !isAbortSignal(signal)) {
    problems.add("waitFor.signal", signal, "an AbortSignal");
  }
  if (problems.items.length > 0) return new ConfigError(problems.items);
  return {
    opts: cost === 1 ? COST_ONE : { cost },
    maxWaitMs,
    maxQueue,
    signal,
  };
}

/** An AbortSignal, or anything shaped like one (a polyfill's, another realm's). */
export function isAbortSignal(signal: unknown): signal is AbortSignal {
  return (
    typeof signal === "object" &&
    signal !== null &&
    typeof (signal as AbortSignal).aborted === "boolean" &&
    typeof (signal as AbortSignal).addEventListener === "function" &&
    typeof (signal as AbortSignal).removeEventListener === "function"
  );
}
