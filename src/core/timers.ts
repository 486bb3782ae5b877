/**
 * The timer functions waiting code uses (`waitFor`, wrap's "wait", the scheduler). Injected so
 * tests drive time by hand: throttlekit/testing's manualClock() has `timers` that fire as its
 * clock advances, with no real sleep.
 */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /**
   * The time these timers count in, for deadlines (`maxWaitMs`). Fake timers give their own;
   * the manual clock's timers do.
   * @default performance.now()
   */
  now?(): number;
}

/**
 * The host's timers. Not unref'd: a caller awaiting `waitFor` is work in progress, and a script
 * must not exit with its promise pending.
 */
export const realTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) =>
    globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
};

export const TIMERS_FORM = "an object { setTimeout(fn, ms), clearTimeout(handle), now?() }";

/** The `timers` option of every factory that waits, checked one way: absent means the host's. */
export function checkTimers(
  given: unknown,
  problems: { add(option: string, received: unknown, expected: string): void },
): Timers {
  const timers = given ?? realTimers;
  if (
    typeof timers !== "object" ||
    timers === null ||
    typeof (timers as Timers).setTimeout !== "function" ||
    typeof (timers as Timers).clearTimeout !== "function"
  ) {
    problems.add("timers", given, TIMERS_FORM);
  }
  return timers as Timers;
}

/**
 * The time deadlines are measured in: the timers' own `now` when they have one (the manual
 * clock's do); else monotonic time, which a wall-clock step cannot bend.
 */
export function timersNow(timers: Timers): () => number {
  const own = timers.now;
  if (typeof own === "function") return () => own.call(timers);
  const perf = globalThis.performance;
  return typeof perf?.now === "function" ? () => perf.now() : Date.now;
}
