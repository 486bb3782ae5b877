import type { OutcomeCounts, RuleMetrics } from "./types.js";

/** Indexes into a pair's counts: the five outcomes, then shadowed refusals. */
export const ALLOWED = 0;
export const LIMITED = 1;
export const BLOCKED = 2;
export const DENIED = 3;
export const DEGRADED = 4;
export const SHADOWED = 5;
export const WIDTH = 6;
/** The names of the indexes above, as fleet fields spell them. */
export const COUNT_NAMES = [
  "allowed",
  "limited",
  "blocked",
  "denied",
  "degraded",
  "shadowed",
] as const;

/** The policy of a deny-list refusal: no policy decided it (as throttlekit/prometheus labels it). */
export const DENY_LIST_POLICY = "deny-list";
/** Where the counts of pairs beyond `MAX_PAIRS` go, so totals stay exact. */
export const OVERFLOW = "_overflow";
/**
 * Distinct (rule, policy) pairs counted before new ones share the overflow pair. Rules and
 * policies come from code, never from a request; the cap keeps a misuse (a rule named after
 * each client) from growing memory without end.
 */
export const MAX_PAIRS = 1000;

/** The counts of one (rule, policy) pair. */
export type Pair = {
  readonly rule: string;
  readonly policy: string;
  /** By the indexes above. */
  readonly n: number[];
  /** What of `n` the fleet store has been given already (fleet.ts). */
  readonly sent: number[];
};

/** Counts by rule and policy, at most MAX_PAIRS pairs (plus the overflow pair). */
export class CountTable {
  private readonly rules = new Map<string, Map<string, Pair>>();
  private pairs = 0;

  constructor(private readonly maxPairs = MAX_PAIRS) {}

  get size(): number {
    return this.pairs;
  }

  pair(rule: string, policy: string): Pair {
    let policies = this.rules.get(rule);
    const found = policies?.get(policy);
    if (found !== undefined) return found;
    if (this.pairs >= this.maxPairs && rule !== OVERFLOW) return this.pair(OVERFLOW, OVERFLOW);
    if (policies === undefined) {
      policies = new Map();
      this.rules.set(rule, policies);
    }
    const pair: Pair = { rule, policy, n: [0, 0, 0, 0, 0, 0], sent: [0, 0, 0, 0, 0, 0] };
    policies.set(policy, pair);
    if (rule !== OVERFLOW) this.pairs++;
    return pair;
  }

  *all(): IterableIterator<Pair> {
    for (const policies of this.rules.values()) yield* policies.values();
  }

  clear(): void {
    this.rules.clear();
    this.pairs = 0;
  }
}

/** Plain outcome counts from a pair's counts (or a sum of them). */
export function outcomeCounts(n: readonly number[]): OutcomeCounts {
  const allowed = n[ALLOWED]!;
  const limited = n[LIMITED]!;
  const blocked = n[BLOCKED]!;
  const denied = n[DENIED]!;
  const degraded = n[DEGRADED]!;
  const requests = allowed + limited + blocked + denied + degraded;
  return {
    requests,
    allowed,
    limited,
    blocked,
    denied,
    degraded,
    shadowed: n[SHADOWED]!,
    blockRate: requests === 0 ? 0 : (limited + blocked + denied) / requests,
  };
}

/** Totals, and per rule and policy, from pairs: fresh plain objects every time. */
export function summarize(
  pairs: Iterable<{
    readonly rule: string;
    readonly policy: string;
    readonly n: readonly number[];
  }>,
): { total: OutcomeCounts; rules: Record<string, RuleMetrics> } {
  const total = new Array<number>(WIDTH).fill(0);
  const byRule = new Map<string, { n: number[]; policies: Record<string, OutcomeCounts> }>();
  for (const p of pairs) {
    let r = byRule.get(p.rule);
    if (r === undefined) {
      r = { n: new Array<number>(WIDTH).fill(0), policies: Object.create(null) };
      byRule.set(p.rule, r);
    }
    for (let i = 0; i < WIDTH; i++) {
      r.n[i]! += p.n[i]!;
      total[i]! += p.n[i]!;
    }
    const before = r.policies[p.policy];
    r.policies[p.policy] = outcomeCounts(before === undefined ? p.n : add(countsOf(before), p.n));
  }
  // Own data properties on plain objects (a rule or policy named "__proto__" stays a key): the
  // null-prototype record was only for building.
  const rules: Record<string, RuleMetrics> = Object.fromEntries(
    [...byRule].map(([rule, r]) => [rule, { ...outcomeCounts(r.n), policies: { ...r.policies } }]),
  );
  return { total: outcomeCounts(total), rules };
}

function countsOf(c: OutcomeCounts): number[] {
  return [c.allowed, c.limited, c.blocked, c.denied, c.degraded, c.shadowed];
}

function add(a: number[], b: readonly number[]): number[] {
  for (let i = 0; i < WIDTH; i++) a[i]! += b[i]!;
  return a;
}
