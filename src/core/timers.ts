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
