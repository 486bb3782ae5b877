import { wallNow } from "../clock.js";
import type { ConcurrencyAnswer, ConcurrencyBinding } from "../store.js";
import type { Room } from "./binding.js";
import { EVICT_SCAN, SWEEP_BATCH, SWEEP_EVERY_MASK } from "./rows.js";

/**
 * The leases of one namespace in the memory store: key → (lease id → expiry). No timer per
 * lease: an expired lease is dropped when its key is next read, by a bounded sweep every 64
 * calls, or when the store needs room. A key counts as one towards `maxKeys` however many
 * leases it holds, and is forgotten as soon as it holds none; eviction only ever takes a key
 * whose leases have all expired (forgetting a live lease would admit more than `max`).
 */
export class MemoryConcurrency implements ConcurrencyBinding {
  private readonly keys = new Map<string, Map<string, number>>();
  private seq = 0;
  private ops = 0;
  private sweepIter: Iterator<[string, Map<string, number>]> | undefined;

  constructor(private readonly room: Room) {}

  acquire(
    key: string,
    max: number,
    leaseMs: number,
    now: number | undefined,
  ): Promise<ConcurrencyAnswer> {
    return Promise.resolve(this.acquireSync(key, max, leaseMs, now));
  }

  acquireSync(
    key: string,
    max: number,
    leaseMs: number,
    now: number | undefined,
  ): ConcurrencyAnswer {
    const t = now ?? wallNow();
    if ((++this.ops & SWEEP_EVERY_MASK) === 0) this.sweep(t);
    let leases = this.keys.get(key);
    let live = 0;
    let earliest = Number.POSITIVE_INFINITY;
    let latest = t;
    if (leases !== undefined) {
      for (const [id, at] of leases) {
        if (at <= t) leases.delete(id);
        else {
          live++;
          if (at < earliest) earliest = at;
          if (at > latest) latest = at;
        }
      }
    }
    if (live >= max) {
      return answer(false, "limited", "", earliest, live, Math.max(1, earliest - t), latest - t);
    }
    const expiresAt = t + leaseMs;
    if (leases === undefined) {
      if (this.room.size >= this.room.maxKeys && !this.room.makeRoom(t, undefined, false)) {
        // Full of keys with live leases: whenFull decides, as for counters (memory-store.ts).
        if (this.room.whenFull === "allow") {
          return answer(true, "degraded", `~${++this.seq}`, expiresAt, 1, 0, leaseMs);
        }
        return answer(false, "degraded", "", 0, 0, 1000, 1000);
      }
      leases = new Map();
      this.keys.set(key, leases);
      this.room.size++;
    }
    const id = String(++this.seq);
    leases.set(id, expiresAt);
    if (expiresAt > latest) latest = expiresAt;
    return answer(true, "ok", id, expiresAt, live + 1, 0, latest - t);
  }

  async release(key: string, id: string, now: number | undefined): Promise<boolean> {
    const leases = this.keys.get(key);
    const at = leases?.get(id);
    if (leases === undefined || at === undefined) return false;
    leases.delete(id);
    if (leases.size === 0) this.forget(key);
    return at > (now ?? wallNow());
  }

  async renew(
    key: string,
    id: string,
    leaseMs: number,
    now: number | undefined,
  ): Promise<number | undefined> {
    const t = now ?? wallNow();
    const leases = this.keys.get(key);
    const at = leases?.get(id);
    if (leases === undefined || at === undefined) return undefined;
    if (at <= t) {
      // Expired: its slot may already have been taken; renewing it would exceed max.
      leases.delete(id);
      if (leases.size === 0) this.forget(key);
      return undefined;
    }
    const expiresAt = t + leaseMs;
    leases.set(id, expiresAt);
    return expiresAt;
  }

  async inFlight(key: string, now: number | undefined): Promise<number> {
    const leases = this.keys.get(key);
    if (leases === undefined) return 0;
    const t = now ?? wallNow();
    let live = 0;
    for (const at of leases.values()) if (at > t) live++;
    return live;
  }

  /** Frees one key whose leases have all expired, among the first EVICT_SCAN. */
  evictIdle(t: number): boolean {
    let scanned = 0;
    for (const [key, leases] of this.keys) {
      if (idle(leases, t)) {
        this.forget(key);
        return true;
      }
      if (++scanned === EVICT_SCAN) break;
    }
    return false;
  }

  clear(): void {
    this.keys.clear();
    this.sweepIter = undefined;
  }

  private forget(key: string): void {
    if (this.keys.delete(key)) this.room.size--;
  }

  /** Drops a few keys whose leases have all expired; called every 64 acquires. */
  private sweep(t: number): void {
    this.sweepIter ??= this.keys.entries();
    for (let i = 0; i < SWEEP_BATCH; i++) {
      const next = this.sweepIter.next();
      if (next.done) {
        this.sweepIter = undefined;
        return;
      }
      if (idle(next.value[1], t)) this.forget(next.value[0]);
    }
  }
}

function idle(leases: Map<string, number>, t: number): boolean {
  for (const at of leases.values()) if (at > t) return false;
  return true;
}

function answer(
  granted: boolean,
  reason: ConcurrencyAnswer["reason"],
  id: string,
  expiresAt: number,
  inFlight: number,
  retryAfterMs: number,
  resetMs: number,
): ConcurrencyAnswer {
  return { granted, reason, id, expiresAt, inFlight, retryAfterMs, resetMs };
}
