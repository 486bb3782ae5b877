import { type Duration, parseDuration } from "../core/duration.js";
import { ConfigError } from "../core/errors/config-error.js";

/** A clock that only moves when told to. Pass `clock.now` as a limiter's `clock`. */
export type ManualClock = {
  /** Current time in ms (a bound function: pass it around freely). */
  readonly now: () => number;
  /** Moves time forward by `by` (ms or "1m30s") and returns the new time. */
  advance(by: Duration): number;
  /** Jumps to an absolute time; may go backwards, to test clock steps. */
  set(ms: number): void;
};

/**
 * @example
 * const clock = manualClock();
 * const limiter = createLimiter({ policies: "2/s", clock: clock.now });
 * clock.advance("1s");
 */
export function manualClock(start = 1_700_000_000_000): ManualClock {
  let t = start;
  return {
    now: () => t,
    advance(by) {
      const ms = parseDuration(by);
      if (ms === undefined) {
        throw new ConfigError([
          { option: "advance(by)", received: by, expected: "a duration ≥ 0" },
        ]);
      }
      t += ms;
      return t;
    },
    set(ms) {
      t = ms;
    },
  };
}
