import type { ConcurrencyLimiter, Lease } from "../core/concurrency.js";

/** One request's concurrency slot, from the moment it was granted until the response ends. */
export type Held = {
  readonly slots: ConcurrencyLimiter;
  /** The lease as last renewed; undefined once released (or lost to an expiry). */
  lease: Lease | undefined;
  /** When (the limiter's clock) this lease is next due for renewal. */
  renewAt: number;
};

/** The shared renewal timer: one per HTTP limiter, whatever the number of requests. */
export type RenewTimer = {
  start(tick: () => void, everyMs: number): unknown;
  stop(handle: unknown): void;
};

/** setInterval, unref'd: renewing leases is no reason to keep a process alive. */
export const intervalTimer: RenewTimer = {
  start(tick, everyMs) {
    const handle = setInterval(tick, everyMs);
    (handle as { unref?: () => void }).unref?.();
    return handle;
  },
  stop(handle) {
    clearInterval(handle as ReturnType<typeof setInterval>);
  },
};

/**
 * The concurrency slots an HTTP limiter's requests hold. A request that outlives a third of its
 * lease (a slow upload, a long poll) has it renewed, so its slot is not freed under it while it
 * runs; a process that dies stops renewing, and its slots free themselves `leaseMs` later. One
 * interval timer serves every held lease (never one per request), runs only while some lease
 * is held, and checks each lease against the limiter's clock (time elapsed here, so a skew
 * between this machine and Redis TIME changes nothing).
 */
export class InFlight {
  private readonly held = new Set<Held>();
  private timer: unknown;
  private renewing = false;

  constructor(
    private readonly now: () => number,
    /** How often due leases are looked for: a third of the shortest lease of any rule. */
    private readonly everyMs: number,
    private readonly ticker: RenewTimer = intervalTimer,
  ) {}

  /** Leases held now (for tests and metrics). */
  get size(): number {
    return this.held.size;
  }

  /** Starts tracking a granted lease. */
  hold(slots: ConcurrencyLimiter, lease: Lease): Held {
    const h: Held = { slots, lease, renewAt: this.now() + slots.leaseMs / 3 };
    this.held.add(h);
    if (this.timer === undefined)
      this.timer = this.ticker.start(() => this.renewDue(), this.everyMs);
    return h;
  }

  /** The request is done: its slot goes back (fire and forget; an unreachable store lets it expire). */
  release(h: Held): void {
    const lease = h.lease;
    this.held.delete(h);
    h.lease = undefined;
    if (lease !== undefined) h.slots.release(lease).catch(noop);
  }

  /**
   * Renews every lease past a third of its life. A renewal answered `false` (the lease expired
   * through a long outage: its slot may be someone else's now) lets the request go on
   * uncounted rather than cut it off, as the gRPC adapter does.
   */
  renewDue(): Promise<void> {
    if (this.held.size === 0) {
      this.stopTimer();
      return Promise.resolve();
    }
    if (this.renewing) return Promise.resolve();
    this.renewing = true;
    const now = this.now();
    const asked: Promise<void>[] = [];
    for (const h of this.held) {
      const lease = h.lease;
      if (lease === undefined || h.renewAt > now) continue;
      h.renewAt = now + h.slots.leaseMs / 3;
      asked.push(
        h.slots.renew(lease).then((renewed) => {
          if (h.lease === undefined) return; // released meanwhile
          if (renewed !== false) {
            h.lease = renewed;
            return;
          }
          h.lease = undefined;
          this.held.delete(h);
        }, noop),
      );
    }
    return Promise.all(asked).then(
      () => {
        this.renewing = false;
      },
      () => {
        this.renewing = false;
      },
    );
  }

  /** Stops renewing (the limiter is closing); held leases expire on their own. */
  close(): void {
    this.stopTimer();
    this.held.clear();
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    this.ticker.stop(this.timer);
    this.timer = undefined;
  }
}

function noop(): void {}
