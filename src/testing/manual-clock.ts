import { type Duration, MAX_TIMER_MS, parseDuration } from "../core/duration.js";
import { ConfigError } from "../core/errors/config-error.js";
import type { Timers } from "../core/timers.js";

/**
 * The manual clock's timers: what a limiter's `timers` option takes, plus `now`, the time the
 * timers count in, so waiting code measures deadlines on the same manual clock.
 */
export type ManualTimers = Timers & {
  /** The manual clock's time, the same function as `clock.now`. */
  readonly now: () => number;
};

/** A clock that only moves when told to. Pass `clock.now` as a limiter's `clock`. */
export type ManualClock = {
  /** Current time in ms (a bound function: pass it around freely). */
  readonly now: () => number;
  /**
   * Timers on this clock: `setTimeout(fn, ms)` is due at now + ms and fires when `advance`,
   * `set` or `advanceAsync` reach it; nothing fires on its own. Pass them, with `now`, to a
   * limiter: `createLimiter({ policies, clock: clock.now, timers: clock.timers })`.
   */
  readonly timers: ManualTimers;
  /**
   * Moves time forward by `by` (ms or "1m30s") and returns the new time. Timers due on the way
   * fire in time order, each with the clock set to its due time; promise callbacks they start
   * run only after this returns (use `advanceAsync` to let them run between timers).
   */
  advance(by: Duration): number;
  /**
   * Moves time forward like `advance`, but lets pending promise callbacks settle before the
   * first timer, between timers and at the end, so code that awaits between timers (waitFor,
   * the scheduler) runs as it would in real time, without a real sleep.
   */
  advanceAsync(by: Duration): Promise<number>;
  /**
   * Jumps to an absolute time; may go backwards, to test clock steps. Going forward fires the
   * timers due on the way, as `advance` does; going backwards fires none (they wait for the
   * clock to come back to their due time).
   */
  set(ms: number): void;
  /** How many timers are scheduled and not yet fired or cleared. */
  pendingTimers(): number;
};

type Timer = {
  readonly due: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
};

/** Earlier due first; at the same due time, the one scheduled first. */
function before(a: Timer, b: Timer): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/**
 * Pending timers as a binary heap: a test may hold a timer per key for many keys (bounds
 * tests hold 100 000), and firing them must not cost a scan each. A cleared timer is only
 * marked, and dropped when it reaches the top (or all at once when they pile up).
 */
class TimerHeap {
  private items: Timer[] = [];
  /** Timers scheduled and neither fired nor cleared (a handle from elsewhere is not in it). */
  private readonly pending = new Set<Timer>();

  get live(): number {
    return this.pending.size;
  }

  push(timer: Timer): void {
    const a = this.items;
    a.push(timer);
    this.pending.add(timer);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const up = a[parent]!;
      if (!before(timer, up)) break;
      a[i] = up;
      i = parent;
    }
    a[i] = timer;
  }

  cancel(timer: Timer): void {
    if (!this.pending.delete(timer)) return;
    timer.cancelled = true;
    if (this.items.length > 64 && this.pending.size < this.items.length / 2) {
      const kept = this.items.filter((t) => !t.cancelled);
      this.items = [];
      for (const t of kept) this.push(t);
    }
  }

  /** Removes and returns the earliest live timer due at or before `until`. */
  takeDue(until: number): Timer | undefined {
    for (;;) {
      const top = this.items[0];
      if (top === undefined || (!top.cancelled && top.due > until)) return undefined;
      this.pop();
      if (this.pending.delete(top)) return top; // fired: clearing it later does nothing
    }
  }

  private pop(): void {
    const a = this.items;
    const last = a.pop()!;
    if (a.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = l < a.length && before(a[l]!, last) ? l : -1;
      if (r < a.length && before(a[r]!, m === -1 ? last : a[m]!)) m = r;
      if (m === -1) break;
      a[i] = a[m]!;
      i = m;
    }
    a[i] = last;
  }
}

/**
 * Settles pending promise callbacks: one macrotask runs after every queued microtask, however
 * deep the chain. Captured at load so a test's fake timers cannot stall it.
 */
const macrotask: (fn: () => void) => void =
  typeof globalThis.setImmediate === "function"
    ? globalThis.setImmediate.bind(globalThis)
    : (fn) => globalThis.setTimeout(fn, 0);
const settle = (): Promise<void> => new Promise((done) => macrotask(done));

/**
 * A clock that moves only when told to, with timers that fire on it: tests of waiting code
 * (waitFor, wrap's "wait", the scheduler) run in no real time.
 *
 * A timer callback that throws does not stop the others: every timer due is fired, the clock
 * reaches its target, and then the error is thrown from the `advance`/`set` call that fired it
 * (rejected from `advanceAsync`; several errors come as one AggregateError). The test sees the
 * failure where it moved time, and the clock is left consistent.
 *
 * @example
 * const clock = manualClock();
 * const limiter = createLimiter({ policies: "2/s", clock: clock.now, timers: clock.timers });
 * const third = [limiter.waitFor("k"), limiter.waitFor("k"), limiter.waitFor("k")][2];
 * await clock.advanceAsync("500ms"); // third resolves, with no real sleep
 */
export function manualClock(start = 1_700_000_000_000): ManualClock {
  let t = start;
  let seq = 0;
  const pending = new TimerHeap();
  const now = () => t;
  const takeDue = (until: number) => pending.takeDue(until);

  function fire(timer: Timer, errors: unknown[]): void {
    if (timer.due > t) t = timer.due;
    try {
      timer.callback();
    } catch (error) {
      errors.push(error);
    }
  }

  function report(errors: unknown[]): void {
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, "several manual-clock timers threw");
  }

  function moveTo(target: number): void {
    const errors: unknown[] = [];
    for (let timer = takeDue(target); timer !== undefined; timer = takeDue(target)) {
      fire(timer, errors);
    }
    t = target;
    report(errors);
  }

  function parseBy(by: Duration, option: string): number {
    const ms = parseDuration(by);
    if (ms === undefined) {
      throw new ConfigError([{ option, received: by, expected: "a duration ≥ 0" }]);
    }
    return ms;
  }

  const timers: ManualTimers = {
    now,
    setTimeout(callback, ms) {
      // As Node does: a delay below 1 ms, above the 32-bit bound or not a number becomes 1 ms,
      // so a timer that reschedules itself always moves time on (no endless advance).
      const delay = typeof ms === "number" && ms >= 1 && ms <= MAX_TIMER_MS ? ms : 1;
      const timer: Timer = { due: t + delay, seq: seq++, callback, cancelled: false };
      pending.push(timer);
      return timer;
    },
    clearTimeout(handle) {
      if (typeof handle === "object" && handle !== null) pending.cancel(handle as Timer);
    },
  };

  return {
    now,
    timers,
    advance(by) {
      moveTo(t + parseBy(by, "advance(by)"));
      return t;
    },
    async advanceAsync(by) {
      const target = t + parseBy(by, "advanceAsync(by)");
      const errors: unknown[] = [];
      await settle();
      for (let timer = takeDue(target); timer !== undefined; timer = takeDue(target)) {
        fire(timer, errors);
        await settle();
      }
      // A concurrent set() may have moved past the target: time never goes back here.
      if (t < target) t = target;
      await settle();
      report(errors);
      return t;
    },
    set(ms) {
      if (ms > t) moveTo(ms);
      else t = ms;
    },
    pendingTimers: () => pending.live,
  };
}
