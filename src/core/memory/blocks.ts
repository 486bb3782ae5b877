import { EVICT_SCAN, type KeyCount, SWEEP_BATCH } from "./rows.js";

/**
 * The penalty box of one binding: key → the time its block ends. Blocks count towards
 * `maxKeys` like counters, expire lazily (read as absent once ended) and are swept in batches.
 */
export class BlockTable {
  private readonly ends = new Map<string, number>();
  private sweepIter: Iterator<[string, number]> | undefined;

  constructor(private readonly count: KeyCount) {}

  get size(): number {
    return this.ends.size;
  }

  /** When `key`'s block ends, or undefined when it is not blocked at `t` (an ended block is dropped). */
  endOf(key: string, t: number): number | undefined {
    const until = this.ends.get(key);
    if (until === undefined) return undefined;
    if (until <= t) {
      this.drop(key);
      return undefined;
    }
    return until;
  }

  /** Whether `key` is blocked at `t`, reading only (an ended block stays for the sweep). */
  isBlocked(key: string, t: number): boolean {
    const until = this.ends.get(key);
    return until !== undefined && until > t;
  }

  has(key: string): boolean {
    return this.ends.has(key);
  }

  /** Blocks `key` until `until`, or later if it already is; the caller made room for a new key. */
  extend(key: string, until: number): void {
    const current = this.ends.get(key);
    if (current === undefined) this.count.size++;
    if (current === undefined || until > current) this.ends.set(key, until);
  }

  drop(key: string): boolean {
    if (!this.ends.delete(key)) return false;
    this.count.size--;
    return true;
  }

  /** Frees one block that has ended, among the first EVICT_SCAN (oldest first). */
  evictEnded(t: number): boolean {
    let scanned = 0;
    for (const [key, until] of this.ends) {
      if (until <= t) return this.drop(key);
      if (++scanned === EVICT_SCAN) break;
    }
    return false;
  }

  /**
   * Frees the block that ends soonest among the first EVICT_SCAN (oldest first): the last
   * resort, used only to make room for a new block when no counter is left to forget.
   */
  evictSoonest(): boolean {
    let victim: string | undefined;
    let soonest = Number.POSITIVE_INFINITY;
    let scanned = 0;
    for (const [key, until] of this.ends) {
      if (until < soonest) {
        soonest = until;
        victim = key;
      }
      if (++scanned === EVICT_SCAN) break;
    }
    return victim !== undefined && this.drop(victim);
  }

  /** The earliest end among the first EVICT_SCAN blocks (Infinity when there is none). */
  soonestEnd(): number {
    let soonest = Number.POSITIVE_INFINITY;
    let scanned = 0;
    for (const until of this.ends.values()) {
      if (until < soonest) soonest = until;
      if (++scanned === EVICT_SCAN) break;
    }
    return soonest;
  }

  /** Drops a few ended blocks; called every 64 decisions. */
  sweep(t: number): void {
    if (this.ends.size === 0) return;
    this.sweepIter ??= this.ends.entries();
    for (let i = 0; i < SWEEP_BATCH; i++) {
      const next = this.sweepIter.next();
      if (next.done) {
        this.sweepIter = undefined;
        return;
      }
      if (next.value[1] <= t) this.drop(next.value[0]);
    }
  }
}
