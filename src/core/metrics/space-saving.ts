import type { Offender } from "./types.js";

/**
 * The Space-Saving heavy-hitters sketch (Metwally, Agrawal, El Abbadi, "Efficient Computation of
 * Frequent and Top-k Elements in Data Streams", ICDT 2005): `capacity` counters, whatever the
 * number of distinct keys. A new key takes the smallest counter over, inheriting its count as
 * its possible error, so a count never underestimates and overestimates by at most `error`;
 * every key more frequent than total / capacity is guaranteed to be held.
 *
 * Counters sit in flat arrays indexed by slot; finding the smallest is a scan, done once per
 * run of evictions: the slots holding the minimum are remembered and taken one by one (a flood
 * of distinct keys costs O(1) amortised per key, not O(capacity)). An evicted key is not
 * deleted from the key → slot map (a lookup checks the slot still holds it): deleting made V8
 * rehash the map every few dozen evictions, which cost more than the rest of the update. The
 * map is rebuilt from the slots once it holds 4 × capacity keys, so it stays bounded.
 */
export class SpaceSaving {
  private readonly slots = new Map<string, number>();
  private readonly keys: string[] = [];
  private readonly counts: number[] = [];
  private readonly errors: number[] = [];
  /** Slots that held `minCount` at the last scan (checked again before use). */
  private readonly mins: number[] = [];
  private minCount = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.keys.length;
  }

  add(key: string, by = 1): void {
    if (this.capacity === 0) return;
    const slot = this.slots.get(key);
    if (slot !== undefined && this.keys[slot] === key) {
      this.counts[slot]! += by;
      return;
    }
    if (this.keys.length < this.capacity) {
      this.slots.set(key, this.keys.length);
      this.keys.push(key);
      this.counts.push(by);
      this.errors.push(0);
      return;
    }
    const victim = this.smallest();
    const floor = this.counts[victim]!;
    if (this.slots.size >= 4 * this.capacity) this.rebuild();
    this.slots.set(key, victim);
    this.keys[victim] = key;
    this.counts[victim] = floor + by;
    this.errors[victim] = floor;
  }

  /** Drops the evicted keys from the map: only the keys held now remain. */
  private rebuild(): void {
    this.slots.clear();
    for (let i = 0; i < this.keys.length; i++) this.slots.set(this.keys[i]!, i);
  }

  /** The slot of a smallest counter. */
  private smallest(): number {
    while (this.mins.length > 0) {
      const slot = this.mins.pop()!;
      // Still at the minimum: nothing is below it (counts only grow).
      if (this.counts[slot] === this.minCount) return slot;
    }
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.counts.length; i++) {
      const c = this.counts[i]!;
      if (c < min) {
        min = c;
        this.mins.length = 0;
      }
      if (c === min) this.mins.push(i);
    }
    this.minCount = min;
    // Taken from the end: reversed so the earliest slot goes first (deterministic order).
    this.mins.reverse();
    return this.mins.pop()!;
  }

  /** The `n` largest counters, largest first (ties by key, so the order is stable). */
  top(n = this.capacity): Offender[] {
    const out: Offender[] = this.keys.map((key, i) => ({
      key,
      count: this.counts[i]!,
      error: this.errors[i]!,
    }));
    out.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out.length > n ? out.slice(0, n) : out;
  }

  clear(): void {
    this.slots.clear();
    this.keys.length = 0;
    this.counts.length = 0;
    this.errors.length = 0;
    this.mins.length = 0;
    this.minCount = 0;
  }
}
