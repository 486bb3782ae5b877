import type { Policy } from "../policy.js";
import { pureStep } from "./step.js";
import type { RowAlgorithm, Verdict } from "./types.js";

/**
 * Sliding window (Cloudflare's weighted counter): state [prev, curr, index]. Windows are
 * aligned to multiples of W; the estimate at `now` is prev·(W − elapsed)/W + curr, where
 * elapsed = now − index·W. Allowed when estimate + cost ≤ L.
 *
 * The weight is computed as prev·(W − elapsed)/W, not prev·(1 − elapsed/W): one rounding
 * instead of two, and the Lua twin computes the very same expression.
 */
export const slidingWindow: RowAlgorithm = {
  name: "sliding-window",
  width: 3,
  evaluate(s, at, now, cost, p, out) {
    decide(s, at, now, cost, p, out, false);
  },
  take(s, at, now, cost, p, out) {
    decide(s, at, now, cost, p, out, true);
  },
  commit(s, at, now, cost, p) {
    const index = Math.floor(now / p.windowMs);
    const prev = prevAt(s, at, index);
    const curr = currAt(s, at, index);
    s[at] = prev;
    s[at + 1] = curr + cost;
    s[at + 2] = index;
  },
  refund(s, at, now, amount, p) {
    const index = Math.floor(now / p.windowMs);
    const prev = prevAt(s, at, index);
    const curr = currAt(s, at, index);
    // Give back from the current window first: that is where the latest charges sit.
    const fromCurr = Math.min(curr, amount);
    s[at] = Math.max(0, prev - (amount - fromCurr));
    s[at + 1] = curr - fromCurr;
    s[at + 2] = index;
  },
  restAt(s, at, p) {
    const index = s[at + 2]!;
    if (s[at + 1]! > 0) return (index + 2) * p.windowMs;
    if (s[at]! > 0) return (index + 1) * p.windowMs;
    return 0;
  },
};

/** evaluate, and with `charge` commit too when allowed: one reading of the row for both. */
function decide(
  s: Float64Array,
  at: number,
  now: number,
  cost: number,
  p: Policy,
  out: Verdict,
  charge: boolean,
): void {
  const w = p.windowMs;
  const index = Math.floor(now / w);
  const prev = prevAt(s, at, index);
  const curr = currAt(s, at, index);
  const estimate = (prev * (w - (now - index * w))) / w + curr;
  out.delayMs = 0;
  if (estimate + cost <= p.limit) {
    out.allowed = true;
    out.remaining = Math.max(0, Math.floor(p.limit - estimate - cost));
    out.resetMs = resetFrom(prev, curr + cost, index, now, w);
    out.retryAfterMs = 0;
    if (charge && cost > 0) {
      s[at] = prev;
      s[at + 1] = curr + cost;
      s[at + 2] = index;
    }
    return;
  }
  out.allowed = false;
  out.remaining = Math.max(0, Math.floor(p.limit - estimate));
  out.resetMs = resetFrom(prev, curr, index, now, w);
  out.retryAfterMs = earliestPass(prev, curr, index, now, cost, p) - now;
}

/** Previous window's count as seen from window `index` (counts shift, then vanish). */
function prevAt(s: Float64Array, at: number, index: number): number {
  const stored = s[at + 2]!;
  if (stored === index) return s[at]!;
  return stored === index - 1 ? s[at + 1]! : 0;
}

/** Current window's count as seen from window `index`. */
function currAt(s: Float64Array, at: number, index: number): number {
  return s[at + 2]! === index ? s[at + 1]! : 0;
}

function resetFrom(prev: number, curr: number, index: number, now: number, w: number): number {
  if (curr > 0) return (index + 2) * w - now;
  if (prev > 0) return (index + 1) * w - now;
  return 0;
}

function admitsAt(
  prev: number,
  curr: number,
  index: number,
  t: number,
  cost: number,
  p: Policy,
): boolean {
  const w = p.windowMs;
  const ti = Math.floor(t / w);
  let pv = prev;
  let cv = curr;
  if (ti === index + 1) {
    pv = curr;
    cv = 0;
  } else if (ti > index + 1) {
    pv = 0;
    cv = 0;
  }
  return (pv * (w - (t - ti * w))) / w + cv + cost <= p.limit;
}

/**
 * The earliest whole millisecond (relative to `now`'s grid) at which the same request passes,
 * assuming nothing else is admitted meanwhile. Solved in closed form, then nudged by the exact
 * admission test so floating-point rounding can never make it early (nor late).
 */
function earliestPass(
  prev: number,
  curr: number,
  index: number,
  now: number,
  cost: number,
  p: Policy,
): number {
  const w = p.windowMs;
  const need = p.limit - cost - curr;
  let t: number;
  if (need >= 0) {
    // This window: prev·(W − e)/W ≤ need  ⇔  e ≥ W − need·W/prev  (prev > 0 since we rejected).
    t = index * w + Math.ceil(w - (need * w) / prev);
  } else {
    // Next window: curr becomes prev; curr·(W − e)/W ≤ L − cost.
    t = (index + 1) * w + Math.max(0, Math.ceil(w - ((p.limit - cost) * w) / curr));
  }
  t = Math.max(t, Math.floor(now) + 1);
  while (t - 1 > now && admitsAt(prev, curr, index, t - 1, cost, p)) t--;
  while (!admitsAt(prev, curr, index, t, cost, p)) t++;
  return t;
}

export function step(state: readonly number[] | undefined, now: number, cost: number, p: Policy) {
  return pureStep(slidingWindow, state, now, cost, p);
}
