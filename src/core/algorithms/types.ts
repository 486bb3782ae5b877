import type { AlgorithmName, Policy } from "../policy.js";

/**
 * One policy's answer for one request, written into a reused scratch object so the hot path
 * allocates nothing per policy. `remaining` is after the charge when allowed, before it when not.
 */
export type Verdict = {
  allowed: boolean;
  remaining: number;
  resetMs: number;
  /** 0 when allowed; Infinity when the cost can never fit. */
  retryAfterMs: number;
  /** leaky-bucket "delay" mode only: how long the caller should wait before acting. */
  delayMs: number;
};

export function emptyVerdict(): Verdict {
  return { allowed: true, remaining: 0, resetMs: 0, retryAfterMs: 0, delayMs: 0 };
}

/**
 * An algorithm as a set of pure functions over a state row. The state of one key lives in
 * `s[at .. at + width)`; all zeros is the fresh state, so a key never seen and a key at rest
 * read the same. Window algorithms use a fixed-width row (`Float64Array`); sliding-log keeps a
 * variable-length log (`number[]` of [time, cost] pairs, oldest first, at = 0).
 *
 * evaluate never writes; commit writes the charged state and is called only after every policy
 * of a decision allowed it (all-or-nothing). The Redis store's Lua twin mirrors these formulas
 * operation for operation, so both stores decide bit for bit alike.
 */
export interface Algorithm<S extends ArrayLike<number> = Float64Array> {
  readonly name: AlgorithmName;
  /** Numbers per key in a state row; 0 for a log. */
  readonly width: number;
  evaluate(s: S, at: number, now: number, cost: number, p: Policy, out: Verdict): void;
  commit(s: S & { [i: number]: number }, at: number, now: number, cost: number, p: Policy): void;
  refund(s: S & { [i: number]: number }, at: number, now: number, amount: number, p: Policy): void;
  /** The time from which this state is back to fresh (≤ now means it can be forgotten). */
  restAt(s: S, at: number, p: Policy): number;
}

/** A log-based algorithm: its state is a growable array instead of a fixed-width row. */
export type LogAlgorithm = Algorithm<number[]>;

/** A fixed-width algorithm, with the fused step the memory store's single-policy path runs. */
export interface RowAlgorithm extends Algorithm<Float64Array> {
  /**
   * evaluate, then commit when allowed and cost > 0, reading the row once: the same result
   * and the same state as the two calls (a property test holds it to that). Precondition:
   * cost ≤ p.burst (judge's cost-exceeds-limit rule runs before it).
   */
  take(s: Float64Array, at: number, now: number, cost: number, p: Policy, out: Verdict): void;
}
