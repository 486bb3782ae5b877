import type { ConcurrencyLimiter, Lease } from "../../index.js";

/** A connection's slot: `lease` is undefined while it waits for a slot after losing one. */
export type Held = { readonly key: string; lease: Lease | undefined };

/**
 * The leases of open connections, renewed together on one timer every third of `leaseMs`
 * (docs/concurrency.md: holders of long-lived things renew well before expiry). The timer runs
 * only while some connection holds a lease and never keeps the process alive.
 */
export class Renewals {
  private readonly held = new Set<Held>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private renewing = false;

  constructor(private readonly slots: ConcurrencyLimiter) {}

  get size(): number {
    return this.held.size;
  }

  add(h: Held): void {
    this.held.add(h);
    if (this.timer === undefined) {
      this.timer = setInterval(
        () => this.renewAll(),
        Math.max(1, Math.floor(this.slots.leaseMs / 3)),
      );
      this.timer.unref?.();
    }
  }

  /** The connection closed: its slot goes back (a renewal in flight gives back what it gets). */
  delete(h: Held): void {
    this.held.delete(h);
    if (this.held.size === 0) this.stop();
    if (h.lease !== undefined) void this.slots.release(h.lease).catch(noop);
    h.lease = undefined;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private renewAll(): void {
    if (this.renewing) return;
    this.renewing = true;
    const slots = this.slots;
    const all = [...this.held].map((h) => {
      const lease = h.lease;
      if (lease === undefined)
        return slots.acquire(h.key).then((r) => this.adopt(h, r.lease), noop);
      return slots.renew(lease).then((r) => {
        if (r !== false) return this.adopt(h, r);
        // Lost (expired through an outage): take a slot again if one is free, else keep the
        // connection open uncounted and try at the next renewal (docs/adapters/socket-io.md).
        h.lease = undefined;
        return slots.acquire(h.key).then((a) => this.adopt(h, a.lease), noop);
      }, noop);
    });
    void Promise.all(all).finally(() => {
      this.renewing = false;
    });
  }

  /** A lease granted for a connection that closed meanwhile goes back at once. */
  private adopt(h: Held, lease: Lease | undefined): void {
    if (lease === undefined) return;
    if (this.held.has(h)) h.lease = lease;
    else void this.slots.release(lease).catch(noop);
  }
}

function noop(): void {}
