import type { Policy } from "../policy.js";
import { pureStep } from "./step.js";
import type { LogAlgorithm } from "./types.js";

/**
 * Sliding log: every admitted request's [time, cost], oldest first. Allowed when the costs in
 * (now − W, now] plus this cost are ≤ L. Exact, at the price of memory that grows with L
 * (entries at one millisecond are merged, so at most min(L, W) entries per key).
 */
export const slidingLog: LogAlgorithm = {
  name: "sliding-log",
  width: 0,
  evaluate(log, _at, now, cost, p, out) {
    const from = firstLive(log, now, p);
    let used = 0;
    for (let i = from; i < log.length; i += 2) used += log[i + 1]!;
    out.delayMs = 0;
    if (used + cost <= p.limit) {
      out.allowed = true;
      out.remaining = p.limit - used - cost;
      out.retryAfterMs = 0;
      out.resetMs = cost > 0 ? p.windowMs : resetIn(log, from, now, p);
      return;
    }
    out.allowed = false;
    out.remaining = p.limit - used;
    out.resetMs = resetIn(log, from, now, p);
    // Oldest entries leave first; find the one whose departure makes room.
    const excess = used + cost - p.limit;
    let freed = 0;
    for (let i = from; i < log.length; i += 2) {
      freed += log[i + 1]!;
      if (freed >= excess) {
        out.retryAfterMs = log[i]! + p.windowMs - now;
        return;
      }
    }
    out.retryAfterMs = Number.POSITIVE_INFINITY; // unreachable: cost ≤ L is checked first
  },
  commit(log, _at, now, cost, p) {
    const from = firstLive(log, now, p);
    if (from > 0) log.splice(0, from);
    if (cost <= 0) return;
    if (log.length > 0 && log[log.length - 2] === now) log[log.length - 1]! += cost;
    else log.push(now, cost);
  },
  refund(log, _at, now, amount, p) {
    const from = firstLive(log, now, p);
    if (from > 0) log.splice(0, from);
    // The newest charges are given back first, as if those requests had not happened.
    let left = amount;
    while (left > 0 && log.length > 0) {
      const c = log[log.length - 1]!;
      if (c > left) {
        log[log.length - 1] = c - left;
        return;
      }
      left -= c;
      log.length -= 2;
    }
  },
  restAt(log, _at, p) {
    return log.length > 0 ? log[log.length - 2]! + p.windowMs : 0;
  },
};

/** Index of the first entry still inside (now − W, now]. */
function firstLive(log: readonly number[], now: number, p: Policy): number {
  let i = 0;
  while (i < log.length && log[i]! <= now - p.windowMs) i += 2;
  return i;
}

/** Time until the newest live entry leaves the window (0 when none is live). */
function resetIn(log: readonly number[], from: number, now: number, p: Policy): number {
  return from < log.length ? log[log.length - 2]! + p.windowMs - now : 0;
}

export function step(state: readonly number[] | undefined, now: number, cost: number, p: Policy) {
  return pureStep(slidingLog, state, now, cost, p);
}
