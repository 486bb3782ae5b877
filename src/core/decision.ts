import type { Verdict } from "./algorithms/types.js";
import type { Policy } from "./policy.js";

/** Why a decision came out the way it did. */
export type Reason =
  | "ok"
  | "limited"
  | "blocked"
  | "denied"
  | "exempt"
  | "degraded"
  | "cost-exceeds-limit";

/** One policy's view of a decision (one entry per policy, for headers and metrics). */
export type PolicyDecision = {
  readonly policy: Policy;
  readonly allowed: boolean;
  readonly limit: number;
  /** Units left; after this request's charge when allowed. */
  readonly remaining: number;
  /** Milliseconds until this policy is back to full. */
  readonly resetMs: number;
  /** 0 when allowed; the earliest wait after which the same request passes; Infinity if never. */
  readonly retryAfterMs: number;
};

/**
 * The answer to one consume. A limit hit is data, never an exception. Top-level numbers are
 * the binding policy's: when rejected, the one that makes the caller wait longest; when
 * allowed, the one with the least remaining.
 */
export type Decision = PolicyDecision & {
  readonly reason: Reason;
  /** Every policy's own view, in the order the policies were given. */
  readonly policies: readonly PolicyDecision[];
  /** leaky-bucket "delay" mode: wait this long before acting (0 otherwise). */
  readonly delayMs: number;
};

/**
 * Builds a Decision as a plain object literal: every field own and enumerable, always in this
 * order, so a spread or structuredClone copies all of it and V8 keeps one shape for every
 * decision (STYLE.md: data is plain; issue 13 item 3).
 */
function decision(
  allowed: boolean,
  limit: number,
  remaining: number,
  resetMs: number,
  retryAfterMs: number,
  reason: Reason,
  policy: Policy,
  policies: readonly PolicyDecision[],
  delayMs: number,
): Decision {
  return { allowed, limit, remaining, resetMs, retryAfterMs, reason, policy, policies, delayMs };
}

function policyDecision(p: Policy, v: Verdict): PolicyDecision {
  return {
    policy: p,
    allowed: v.allowed,
    limit: p.limit,
    remaining: v.remaining,
    resetMs: v.resetMs,
    retryAfterMs: v.retryAfterMs,
  };
}

/**
 * Combines per-policy verdicts into one Decision (all-or-nothing). Shared by every store so
 * they agree on which policy binds. `verdicts[i]` belongs to `policies[i]`; when the whole
 * decision is rejected, the caller has already restated allowed policies' `remaining` as
 * uncharged.
 */
export function combine(policies: readonly Policy[], verdicts: readonly Verdict[]): Decision {
  if (policies.length === 1) {
    // The hot path: one decision object, one one-entry list, one entry.
    const v = verdicts[0]!;
    const p = policies[0]!;
    return decision(
      v.allowed,
      p.limit,
      v.remaining,
      v.resetMs,
      v.retryAfterMs,
      v.allowed
        ? "ok"
        : v.retryAfterMs === Number.POSITIVE_INFINITY
          ? "cost-exceeds-limit"
          : "limited",
      p,
      [policyDecision(p, v)],
      v.delayMs,
    );
  }
  let allowed = true;
  for (const v of verdicts) allowed &&= v.allowed;
  let bind = 0;
  let delayMs = 0;
  for (let i = 0; i < verdicts.length; i++) {
    const v = verdicts[i]!;
    const b = verdicts[bind]!;
    if (allowed) {
      if (v.remaining < b.remaining || (v.remaining === b.remaining && v.resetMs > b.resetMs))
        bind = i;
      if (v.delayMs > delayMs) delayMs = v.delayMs;
    } else if (!v.allowed && (b.allowed || v.retryAfterMs > b.retryAfterMs)) {
      bind = i;
    }
  }
  const v = verdicts[bind]!;
  const p = policies[bind]!;
  return decision(
    allowed,
    p.limit,
    v.remaining,
    v.resetMs,
    allowed ? 0 : v.retryAfterMs,
    allowed ? "ok" : v.retryAfterMs === Number.POSITIVE_INFINITY ? "cost-exceeds-limit" : "limited",
    p,
    policies.map((q, i) => policyDecision(q, verdicts[i]!)),
    delayMs,
  );
}

/**
 * A decision made without consulting policy state: a block, an allow/deny list entry, an
 * exemption, or a degraded answer while the store is unavailable.
 */
export function verdictFree(
  policies: readonly Policy[],
  reason: Exclude<Reason, "ok" | "limited" | "cost-exceeds-limit">,
  allowed: boolean,
  retryAfterMs: number,
): Decision {
  const p = policies[0]!;
  const remaining = allowed ? p.limit : 0;
  const entries = policies.map(
    (q): PolicyDecision => ({
      policy: q,
      allowed,
      limit: q.limit,
      remaining: allowed ? q.limit : 0,
      resetMs: retryAfterMs,
      retryAfterMs,
    }),
  );
  return decision(allowed, p.limit, remaining, retryAfterMs, retryAfterMs, reason, p, entries, 0);
}
