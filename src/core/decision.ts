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
 * A single-policy decision, the hot path's only allocation. Its one-entry `policies` list is
 * built when read (header rendering reads it; most callers never do), and `toJSON` writes it
 * out so logged decisions are complete. Being a class instance, a spread (`{ ...d }`) copies
 * the fields but not `policies`: read it from the decision itself.
 */
class SoloDecision {
  readonly limit: number;

  constructor(
    readonly policy: Policy,
    readonly allowed: boolean,
    readonly remaining: number,
    readonly resetMs: number,
    readonly retryAfterMs: number,
    readonly reason: Reason,
    readonly delayMs: number,
  ) {
    this.limit = policy.limit;
  }

  get policies(): readonly PolicyDecision[] {
    return [policyEntry(this)];
  }

  toJSON(): Omit<Decision, "policies"> & { policies: readonly PolicyDecision[] } {
    return {
      allowed: this.allowed,
      limit: this.limit,
      remaining: this.remaining,
      resetMs: this.resetMs,
      retryAfterMs: this.retryAfterMs,
      reason: this.reason,
      policy: this.policy,
      policies: this.policies,
      delayMs: this.delayMs,
    };
  }
}

function policyEntry(d: PolicyDecision): PolicyDecision {
  return {
    policy: d.policy,
    allowed: d.allowed,
    limit: d.limit,
    remaining: d.remaining,
    resetMs: d.resetMs,
    retryAfterMs: d.retryAfterMs,
  };
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
    const v = verdicts[0]!;
    return new SoloDecision(
      policies[0]!,
      v.allowed,
      v.remaining,
      v.resetMs,
      v.retryAfterMs,
      v.allowed
        ? "ok"
        : v.retryAfterMs === Number.POSITIVE_INFINITY
          ? "cost-exceeds-limit"
          : "limited",
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
  return {
    allowed,
    limit: p.limit,
    remaining: v.remaining,
    resetMs: v.resetMs,
    retryAfterMs: allowed ? 0 : v.retryAfterMs,
    reason: allowed
      ? "ok"
      : v.retryAfterMs === Number.POSITIVE_INFINITY
        ? "cost-exceeds-limit"
        : "limited",
    policy: p,
    policies: policies.map((q, i) => policyDecision(q, verdicts[i]!)),
    delayMs,
  };
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
  return {
    allowed,
    limit: p.limit,
    remaining,
    resetMs: retryAfterMs,
    retryAfterMs,
    reason,
    policy: p,
    policies: entries,
    delayMs: 0,
  };
}
