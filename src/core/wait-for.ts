// STUB (lead, issue 15): helper B replaces this file with the real WaitQueues.
import type { Decision } from "./decision.js";
import type { Duration } from "./duration.js";
import type { Limiter } from "./limiter.js";
import type { Timers } from "./timers.js";

export type WaitOptions = {
  /** Units; a whole number ≥ 0. @default 1 */
  cost?: number;
  /** Stops waiting: the promise rejects with the signal's reason and nothing is charged. */
  signal?: AbortSignal;
  /** Longest wait before giving up with RateLimitedError. @default no limit */
  maxWaitMs?: Duration;
  /** Most callers waiting on one key; one more is refused at once with RateLimitedError. @default 1000 */
  maxQueue?: number;
};

export class WaitQueues {
  constructor(
    readonly limiter: Limiter,
    readonly timers: Timers,
  ) {}

  waitFor(_key: string, _options?: WaitOptions): Promise<Decision> {
    return Promise.reject(new Error("not built yet"));
  }
}
