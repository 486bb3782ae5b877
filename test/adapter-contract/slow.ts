/**
 * The contract's `/slow` route: a handler that stays in flight until the case lets it go, and a
 * gauge of how many are in it at once. Runners start their servers in the test's own process,
 * so the gauge is shared between a runner's handler and the case that reads it: no counter
 * endpoint, nothing that could itself be limited.
 *
 * A runner's `/slow` handler, for every method:
 *
 * ```ts
 * app.all("/slow", async (req, res) => {
 *   await slow.hold(slowMs(req.url));
 *   res.send("ok");
 * });
 * ```
 */

/** The longest a `/slow` request waits on its own, whatever `ms` asks (a case never hangs). */
const MAX_HOLD_MS = 20_000;

class SlowGauge {
  /** Handlers in `/slow` now (those of aborted requests too, until they are let go). */
  active = 0;
  /** The most that were in it at once since the last `reset`. */
  peak = 0;
  private readonly waiting = new Set<() => void>();
  private readonly watchers = new Set<{ n: number; resolve: () => void }>();

  /** What a runner's `/slow` handler awaits before it answers 200 "ok". */
  async hold(ms: number): Promise<void> {
    this.active++;
    if (this.active > this.peak) this.peak = this.active;
    for (const w of this.watchers) {
      if (this.active >= w.n) {
        this.watchers.delete(w);
        w.resolve();
      }
    }
    try {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiting.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(ms, MAX_HOLD_MS));
        this.waiting.add(done);
      });
    } finally {
      this.active--;
    }
  }

  /** Resolves once at least `n` handlers are in `/slow`. */
  reached(n: number): Promise<void> {
    if (this.active >= n) return Promise.resolve();
    return new Promise((resolve) => this.watchers.add({ n, resolve }));
  }

  /** Lets every waiting handler answer now. */
  releaseAll(): void {
    for (const done of [...this.waiting]) done();
  }

  /** Between cases: nothing held, nothing counted. */
  reset(): void {
    this.releaseAll();
    this.watchers.clear();
    this.peak = this.active;
  }
}

/** The gauge every runner's `/slow` handler reports to. */
export const slow = new SlowGauge();

/** The `ms` query parameter of a `/slow` target ("/slow?ms=5000"); 0 when absent. */
export function slowMs(target: string): number {
  const m = /[?&]ms=(\d+)/.exec(target);
  return m === null ? 0 : Number(m[1]);
}
