import type { Decision, PolicyDecision } from "./decision.js";
import { ConfigError, type ProblemList } from "./errors/config-error.js";
import { MAX_POLICY_MS, type Policy, type PolicyInput, parsePolicies } from "./policy.js";

/**
 * A bucket in token-throttler's own dict shape, so its configuration loads as it is:
 * `max_tokens` per `replenish_time` seconds, refilled all at once when that time has passed since
 * the window opened. It becomes `{ limit: max_tokens, window: replenish_time s, algorithm:
 * "fixed-window" }` (our fixed window opens at the first call, as token-throttler's refill).
 */
export type TokenThrottlerBucket = {
  /** Seconds until the bucket is full again; a whole number ≥ 1. */
  replenish_time: number;
  /** Tokens in a full bucket; a whole number ≥ 1. */
  max_tokens: number;
};

/** One bucket of a registry identifier: a policy, or token-throttler's shape. */
export type BucketInput = PolicyInput | TokenThrottlerBucket;

/** Most buckets one identifier holds: consume's work grows with them. */
export const MAX_BUCKETS = 32;
const TT_KEYS = ["replenish_time", "max_tokens"];
const MAX_SECONDS = MAX_POLICY_MS / 1000;

function isTokenThrottlerShape(input: unknown): boolean {
  return (
    typeof input === "object" &&
    input !== null &&
    ("replenish_time" in input || "max_tokens" in input)
  );
}

/**
 * Parses one bucket or a list of them into policies, adding problems under `where`. Names must
 * be distinct within one list (a bucket is known by its name); undefined when there are problems.
 */
export function parseBuckets(
  input: unknown,
  where: string,
  problems: ProblemList,
): Policy[] | undefined {
  const list: unknown[] = Array.isArray(input) ? input : [input];
  if (list.length > MAX_BUCKETS) {
    problems.add(where, `${list.length} buckets`, `at most ${MAX_BUCKETS} buckets per identifier`);
    return undefined;
  }
  const before = problems.items.length;
  const converted = list.map((item, i) => {
    if (!isTokenThrottlerShape(item)) return item;
    const at = Array.isArray(input) ? `${where}[${i}]` : where;
    const o = item as Record<string, unknown>;
    problems.unknownKeys(o, TT_KEYS, at);
    const seconds = o.replenish_time;
    if (
      !Number.isSafeInteger(seconds) ||
      (seconds as number) < 1 ||
      (seconds as number) > MAX_SECONDS
    ) {
      problems.add(
        `${at}.replenish_time`,
        seconds,
        `a whole number of seconds from 1 to ${MAX_SECONDS}`,
      );
    }
    if (!Number.isSafeInteger(o.max_tokens) || (o.max_tokens as number) < 1) {
      problems.add(`${at}.max_tokens`, o.max_tokens, "a whole number ≥ 1");
    }
    return {
      limit: o.max_tokens,
      window: (seconds as number) * 1000,
      algorithm: "fixed-window",
    };
  });
  if (problems.items.length > before) return undefined;
  let policies: Policy[];
  try {
    policies = parsePolicies(Array.isArray(input) ? converted : converted[0], where);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const p of error.problems) problems.add(p.option, p.received, p.expected);
    return undefined;
  }
  const seen = new Set<string>();
  for (const p of policies) {
    if (seen.has(p.name)) {
      problems.add(where, p.name, "buckets with distinct names (give each a `name`)");
      return undefined;
    }
    seen.add(p.name);
  }
  return policies;
}

/**
 * One Decision from each bucket's, as a composite limiter decides (decision.ts `combine`):
 * allowed when all are; the binding bucket is, when allowed, the one with the least remaining,
 * else the refusal that makes the caller wait longest. `policies` lists every bucket's view.
 */
export function combineBuckets(decisions: readonly Decision[]): Decision {
  if (decisions.length === 1) return decisions[0]!;
  let allowed = true;
  let degraded = false;
  for (const d of decisions) {
    allowed &&= d.allowed;
    degraded ||= d.reason === "degraded";
  }
  let bind = 0;
  let delayMs = 0;
  for (let i = 0; i < decisions.length; i++) {
    const d = decisions[i]!;
    const b = decisions[bind]!;
    if (allowed) {
      if (d.remaining < b.remaining || (d.remaining === b.remaining && d.resetMs > b.resetMs)) {
        bind = i;
      }
      if (d.delayMs > delayMs) delayMs = d.delayMs;
    } else if (!d.allowed && (b.allowed || d.retryAfterMs > b.retryAfterMs)) {
      bind = i;
    }
  }
  const d = decisions[bind]!;
  // Field order as decision.ts builds it: one object shape for every decision.
  return {
    allowed,
    limit: d.limit,
    remaining: d.remaining,
    resetMs: d.resetMs,
    retryAfterMs: allowed ? 0 : d.retryAfterMs,
    reason: allowed ? (degraded ? "degraded" : "ok") : d.reason,
    policy: d.policy,
    policies: decisions.flatMap((x) => x.policies),
    delayMs,
  };
}

/** A bucket's allowed decision restated as if `cost` had not been charged (it was given back). */
export function uncharged(d: Decision, cost: number): Decision {
  const back = (p: PolicyDecision): PolicyDecision => ({
    ...p,
    remaining: Math.min(p.policy.burst, p.remaining + cost),
  });
  return {
    ...d,
    remaining: Math.min(d.policy.burst, d.remaining + cost),
    policies: d.policies.map(back),
  };
}
