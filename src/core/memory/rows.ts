import { algorithms } from "../algorithms/index.js";
import { judge } from "../algorithms/step.js";
import { type Algorithm, emptyVerdict, type Verdict } from "../algorithms/types.js";
import type { Policy } from "../policy.js";

/** What the row and block tables share with their store: the live key count `maxKeys` bounds. */
export type KeyCount = { size: number };

/** Every 64th call sweeps a few keys: expiry costs O(1) per call and needs no timer. */
export const SWEEP_EVERY_MASK = 63;
export const SWEEP_BATCH = 32;
/** Keys examined to find an eviction victim, per binding and per attempt. */
export const EVICT_SCAN = 64;
/**
 * Rows a binding starts with (it doubles as it fills): small, since a store may hold a binding per
 * distinct policy set, e.g. one per limit a policy function computed (docs/memory-store.md).
 */
const INITIAL_ROWS = 4;
const EMPTY_LOG: number[] = [];

/**
 * The counters of one binding: each key's state for every policy side by side in one row of a
 * `Float64Array` (sliding-log keeps a small array per key instead), indexed by a Map. Row 0 is
 * never written: all zeros, it is the fresh state every unseen key reads.
 */
export class RowTable {
  protected readonly index = new Map<string, number>();
  protected readonly algs: Algorithm<Float64Array | number[]>[];
  /** Offset of each policy's state in a row; -1 for a log policy. */
  private readonly offsets: number[];
  /** Per policy, a log per row (only for log policies). */
  private readonly logs: (number[] | undefined)[][];
  protected readonly width: number;
  protected slab: Float64Array;
  private nextRow = 1;
  private readonly free: number[] = [];
  /** The key held in each row (undefined when free): sweeps walk rows, allocating nothing. */
  private readonly keyOfRow: (string | undefined)[] = [undefined];
  private sweepRow = 1;
  private evictRow = 1;
  private readonly probe = emptyVerdict();
  /**
   * The sweep reclaims a key only after it has been at rest this long (the longest window):
   * a bucket key under steady traffic is at rest between hits, and freeing and re-creating it
   * on every hit would be churn. Eviction under maxKeys pressure takes at-rest keys at once.
   */
  private readonly sweepGraceMs: number;

  constructor(
    protected readonly count: KeyCount,
    protected readonly policies: readonly Policy[],
  ) {
    this.algs = policies.map((p) => algorithms[p.algorithm] as Algorithm<Float64Array | number[]>);
    let width = 0;
    this.offsets = this.algs.map((a) => {
      if (a.width === 0) return -1;
      width += a.width;
      return width - a.width;
    });
    this.width = width;
    this.logs = policies.map(() => []);
    this.sweepGraceMs = Math.max(...policies.map((p) => p.windowMs));
    this.slab = new Float64Array(INITIAL_ROWS * Math.max(1, width));
  }

  /** Policy i's verdict for the state in row r (row 0: fresh). */
  protected judgeAt(i: number, r: number, t: number, cost: number, out: Verdict): void {
    const off = this.offsets[i]!;
    const alg = this.algs[i]!;
    if (off < 0) {
      judge(
        alg as Algorithm<number[]>,
        this.logs[i]![r] ?? EMPTY_LOG,
        0,
        t,
        cost,
        this.policies[i]!,
        out,
      );
    } else {
      judge(
        alg as Algorithm<Float64Array>,
        this.slab,
        r * this.width + off,
        t,
        cost,
        this.policies[i]!,
        out,
      );
    }
  }

  protected commitAt(i: number, row: number, t: number, cost: number): void {
    const off = this.offsets[i]!;
    const p = this.policies[i]!;
    if (off < 0) {
      const logs = this.logs[i]!;
      let log = logs[row];
      if (log === undefined) {
        log = [];
        logs[row] = log;
      }
      (this.algs[i] as Algorithm<number[]>).commit(log, 0, t, cost, p);
    } else {
      (this.algs[i] as Algorithm<Float64Array>).commit(
        this.slab,
        row * this.width + off,
        t,
        cost,
        p,
      );
    }
  }

  protected refundAt(row: number, t: number, amount: number): void {
    for (let i = 0; i < this.policies.length; i++) {
      const alg = this.algs[i]!;
      const p = this.policies[i]!;
      if (this.offsets[i]! < 0) {
        const log = this.logs[i]![row];
        if (log !== undefined) alg.refund(log as never, 0, t, amount, p);
      } else {
        alg.refund(this.slab as never, row * this.width + this.offsets[i]!, t, amount, p);
      }
    }
  }

  /** When every policy's state in this row is back to fresh. */
  private restAt(row: number): number {
    let rest = 0;
    for (let i = 0; i < this.policies.length; i++) {
      const off = this.offsets[i]!;
      const p = this.policies[i]!;
      const at =
        off < 0
          ? (this.algs[i] as Algorithm<number[]>).restAt(this.logs[i]![row] ?? EMPTY_LOG, 0, p)
          : (this.algs[i] as Algorithm<Float64Array>).restAt(this.slab, row * this.width + off, p);
      if (at > rest) rest = at;
    }
    return rest;
  }

  /** Gives `key` a row of its own; the caller has made sure the store has room. */
  protected addRow(key: string): number {
    const row = this.free.pop() ?? this.nextRow++;
    const need = (row + 1) * this.width;
    if (need > this.slab.length) {
      const grown = new Float64Array(Math.max(need, this.slab.length * 2));
      grown.set(this.slab);
      this.slab = grown;
    }
    this.index.set(key, row);
    this.keyOfRow[row] = key;
    this.count.size++;
    return row;
  }

  protected removeRow(key: string, row: number): void {
    this.index.delete(key);
    this.keyOfRow[row] = undefined;
    const at = row * this.width;
    this.slab.fill(0, at, at + this.width);
    for (const logs of this.logs) if (logs.length > row) logs[row] = undefined;
    this.free.push(row);
    this.count.size--;
  }

  /**
   * Frees one counter, scanning at most EVICT_SCAN rows from where the last scan stopped: the
   * first key at rest (forgetting it changes nothing), else the first that is not limited (a
   * one-unit request would pass), else, when `limitedToo`, the limited key that frees soonest
   * (an offender's counter is forgotten before an innocent newcomer is refused: issue 13 item 9).
   * With `limitedToo` it frees a key whenever the binding holds one.
   */
  evictCounter(t: number, limitedToo: boolean): boolean {
    if (this.index.size === 0) return false;
    let candidateRow = 0;
    let limitedRow = 0;
    let soonest = Number.POSITIVE_INFINITY;
    const scan = Math.min(EVICT_SCAN, this.nextRow - 1);
    for (let scanned = 0; scanned < scan; scanned++) {
      if (this.evictRow >= this.nextRow) this.evictRow = 1;
      const row = this.evictRow++;
      if (this.keyOfRow[row] === undefined) continue;
      if (this.restAt(row) <= t) {
        this.removeRow(this.keyOfRow[row]!, row);
        return true;
      }
      if (candidateRow !== 0) continue;
      let wait = 0;
      for (let i = 0; i < this.policies.length; i++) {
        this.judgeAt(i, row, t, 1, this.probe);
        if (!this.probe.allowed && this.probe.retryAfterMs > wait) wait = this.probe.retryAfterMs;
      }
      if (wait === 0) candidateRow = row;
      else if (wait < soonest) {
        soonest = wait;
        limitedRow = row;
      }
    }
    if (candidateRow === 0 && limitedToo) {
      // A sparse table can hide its keys from a bounded scan: then the oldest key goes.
      if (limitedRow === 0) limitedRow = this.index.values().next().value!;
      candidateRow = limitedRow;
    }
    if (candidateRow === 0) return false;
    this.removeRow(this.keyOfRow[candidateRow]!, candidateRow);
    return true;
  }

  /** Drops a few long-rested keys; called every 64 decisions. */
  protected sweepRows(t: number): void {
    if (this.index.size === 0) return;
    for (let i = 0; i < SWEEP_BATCH; i++) {
      if (this.sweepRow >= this.nextRow) this.sweepRow = 1;
      const row = this.sweepRow++;
      const key = this.keyOfRow[row];
      if (key !== undefined && this.restAt(row) + this.sweepGraceMs <= t) this.removeRow(key, row);
    }
  }
}
