import type { Escalation, Policy } from "../policy.js";
import type { BlockTable } from "./blocks.js";
import { EVICT_SCAN, type KeyCount, SWEEP_BATCH } from "./rows.js";

/**
 * The length (ms, not yet rounded up) of the block an escalating policy starts at `t`, from its
 * previous one: `last` (0: none) remembered until `until`. A row of blocks grows by `factor` up
 * to `maxMs`; one that starts after the previous is forgotten starts over at the base. Products
 * rather than a power: multiplication rounds the same in V8 and in Redis's Lua, `pow` need not
 * (the Lua twin in src/stores/redis/lua/decide.ts does the same operations in the same order).
 */
export function nextBlockMs(
  last: number,
  until: number,
  t: number,
  p: Policy,
  e: Escalation,
): number {
  if (last === 0 || t >= until) return p.blockForMs;
  const next = last * e.factor;
  return Math.min(next, e.maxMs);
}

/**
 * The row of blocks each key's escalating policies remember: per key one array holding, for
 * policy i, the last block's length (unrounded) at 2i and the time it is forgotten at 2i + 1.
 * One entry counts as one key towards `maxKeys`. An entry is at rest once every policy has
 * forgotten (each time ≤ now): it is then read as absent, swept, and evicted first. Under
 * pressure the history of a key that is not blocked goes before any limited counter (forgetting
 * it only shortens that key's next block); the history of a blocked key is never evicted on its
 * own: it becomes evictable once its block has ended or was itself evicted (memory-store.ts
 * makeRoom gives the whole order).
 */
export class EscalationTable {
  private readonly rows = new Map<string, Float64Array>();
  private sweepIter: Iterator<[string, Float64Array]> | undefined;
  private readonly width: number;

  constructor(
    private readonly count: KeyCount,
    policies: readonly Policy[],
  ) {
    this.width = policies.length * 2;
  }

  get size(): number {
    return this.rows.size;
  }

  /** Policy i's last block and when it is forgotten, into `out` ([0, 0] when none). */
  read(key: string, i: number, out: [number, number]): void {
    const row = this.rows.get(key);
    out[0] = row === undefined ? 0 : row[2 * i]!;
    out[1] = row === undefined ? 0 : row[2 * i + 1]!;
  }

  /** The row of `key`, creating it (the caller made room); undefined when there was no room. */
  row(key: string, room: () => boolean): Float64Array | undefined {
    let row = this.rows.get(key);
    if (row === undefined) {
      if (!room()) return undefined;
      row = new Float64Array(this.width);
      this.rows.set(key, row);
      this.count.size++;
    }
    return row;
  }

  drop(key: string): boolean {
    if (!this.rows.delete(key)) return false;
    this.count.size--;
    return true;
  }

  /** Frees one entry every policy has forgotten, among the first EVICT_SCAN. */
  evictRested(t: number): boolean {
    let scanned = 0;
    for (const [key, row] of this.rows) {
      if (restAt(row) <= t) return this.drop(key);
      if (++scanned === EVICT_SCAN) break;
    }
    return false;
  }

  /**
   * Frees the history of a key that is not blocked now, the one forgotten soonest among the first
   * EVICT_SCAN: under pressure, before any limited counter (issue 17 item 5).
   */
  evictUnblocked(t: number, blocks: BlockTable): boolean {
    let victim: string | undefined;
    let soonest = Number.POSITIVE_INFINITY;
    let scanned = 0;
    for (const [key, row] of this.rows) {
      if (!blocks.isBlocked(key, t)) {
        const at = restAt(row);
        if (at < soonest) {
          soonest = at;
          victim = key;
        }
      }
      if (++scanned === EVICT_SCAN) break;
    }
    return victim !== undefined && this.drop(victim);
  }

  /** Drops a few forgotten entries; called every 64 decisions. */
  sweep(t: number): void {
    if (this.rows.size === 0) return;
    this.sweepIter ??= this.rows.entries();
    for (let i = 0; i < SWEEP_BATCH; i++) {
      const next = this.sweepIter.next();
      if (next.done) {
        this.sweepIter = undefined;
        return;
      }
      if (restAt(next.value[1]) <= t) this.drop(next.value[0]);
    }
  }
}

/** When every policy of the row has forgotten its last block. */
function restAt(row: Float64Array): number {
  let at = 0;
  for (let j = 1; j < row.length; j += 2) if (row[j]! > at) at = row[j]!;
  return at;
}
