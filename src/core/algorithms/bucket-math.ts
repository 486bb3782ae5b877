import type { Policy } from "../policy.js";
import type { Verdict } from "./types.js";

/*
 * Shared arithmetic of the bucket family (token-bucket, gcra, leaky-bucket).
 *
 * All three track a debt D measured in (token × ms) units: D = (B − tokens) × W. Refilling
 * for Δ ms lowers D by Δ × L; a request of cost c raises it by c × W; capacity is B × W.
 * With whole-millisecond times and whole costs every quantity is an integer below 2^53
 * (policy validation guarantees B × W fits), so the arithmetic is exact: token-bucket and
 * GCRA admit identically, not merely "up to rounding", and the Lua twin agrees bit for bit.
 */

/** Fills `out` for a request of `cost` against a bucket whose debt right now is `debt`. */
export function judgeDebt(debt: number, cost: number, p: Policy, out: Verdict): void {
  const capacity = p.burst * p.windowMs;
  const after = debt + cost * p.windowMs;
  out.delayMs = 0;
  if (after <= capacity) {
    out.allowed = true;
    out.remaining = Math.floor((capacity - after) / p.windowMs);
    out.resetMs = Math.ceil(after / p.limit);
    out.retryAfterMs = 0;
  } else {
    out.allowed = false;
    out.remaining = Math.floor((capacity - debt) / p.windowMs);
    out.resetMs = Math.ceil(debt / p.limit);
    out.retryAfterMs = Math.ceil((after - capacity) / p.limit);
  }
}

/** Debt after draining since `last` (never negative; a clock that steps back drains nothing). */
export function drained(debt: number, last: number, now: number, p: Policy): number {
  const elapsed = now > last ? now - last : 0;
  const d = debt - elapsed * p.limit;
  return Math.max(d, 0);
}

/** Stores a bucket's debt as of `now` (its last-drain time never moves back). */
export function setDebt(s: Float64Array, at: number, now: number, debt: number): void {
  s[at] = debt;
  s[at + 1] = Math.max(now, s[at + 1]!);
}
