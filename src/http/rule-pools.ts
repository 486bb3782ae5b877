import { ConfigError, type ProblemList } from "../core/errors/config-error.js";
import { createLimiter, type Limiter } from "../core/limiter.js";
import {
  BUCKETS,
  type Policy,
  type PolicyInput,
  type PolicyOptions,
  parsePolicies,
} from "../core/policy.js";
import { headerRenderer } from "./headers.js";
import type { BuildContext, PolicySet, Target } from "./rules.js";
import { UNLIMITED, type Unlimited } from "./unlimited.js";

/**
 * The limiters of an HTTP limiter's rules, one per pool (a rule, or a zone several rules share)
 * and group. Built once per pool and group; a second rule of the same zone gets the same target,
 * and must name the same policies (a zone is one budget).
 */
export class Pools {
  private readonly built = new Map<
    string,
    { target: Target | Unlimited; signature: string; where: string }
  >();

  constructor(
    private readonly ctx: BuildContext,
    private readonly problems: ProblemList,
  ) {}

  /** The target of `pool` for `group`: built on first use, shared after. */
  target(
    pool: string,
    zone: string | undefined,
    group: string,
    input: PolicySet | Unlimited,
    blockForMs: number | undefined,
    option: string,
    at: string,
  ): Target | Unlimited | undefined {
    const problems = this.problems;
    const parsed =
      input === UNLIMITED ? UNLIMITED : parseWithBlock(input, option, blockForMs, problems);
    if (parsed === undefined) return undefined;
    const signature =
      parsed === UNLIMITED
        ? "unlimited"
        : parsed.policies.map((p) => `${p.id}+${p.blockForMs}`).join("|");
    const id = `${pool}\u0000${group}`;
    const prior = this.built.get(id);
    if (prior !== undefined) {
      if (prior.signature !== signature) {
        problems.add(
          option,
          input === UNLIMITED ? "UNLIMITED" : input,
          `the same policies as ${prior.where}: rules sharing zone "${zone}" share one pool`,
        );
      }
      return prior.target;
    }
    let target: Target | Unlimited = UNLIMITED;
    if (parsed !== UNLIMITED) {
      const ctx = this.ctx;
      let limiter: Limiter;
      try {
        limiter = createLimiter({
          policies: parsed.inputs,
          store: ctx.store,
          prefix: `${ctx.prefix}:${pool}:${group}`,
          ...(ctx.clock !== undefined ? { clock: ctx.clock } : {}),
        });
      } catch (error) {
        // Only reachable with names already reported as invalid (too long a prefix).
        if (!(error instanceof ConfigError)) throw error;
        for (const p of error.problems) problems.add(`${at}.${p.option}`, p.received, p.expected);
        return undefined;
      }
      target = {
        limiter,
        render: headerRenderer(ctx.headers, parsed.policies, ctx.clock ?? Date.now),
        policies: parsed.policies,
      };
    }
    this.built.set(id, { target, signature, where: option });
    return target;
  }
}

/**
 * Parses a rule's policies under their option path; with a rule-level blockFor, rewrites them
 * as objects carrying it (a policy's own blockFor wins).
 */
function parseWithBlock(
  input: PolicySet,
  option: string,
  blockForMs: number | undefined,
  problems: ProblemList,
): { inputs: PolicyInput[]; policies: Policy[] } | undefined {
  let policies: Policy[];
  try {
    policies = parsePolicies(input, option);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const p of error.problems) problems.add(p.option, p.received, p.expected);
    return undefined;
  }
  const list: PolicyInput[] = Array.isArray(input) ? [...input] : [input as PolicyInput];
  if (blockForMs === undefined || blockForMs === 0) return { inputs: list, policies };
  const inputs = policies.map(
    (p): PolicyOptions => ({
      limit: p.limit,
      window: p.windowMs,
      algorithm: p.algorithm,
      ...(BUCKETS.has(p.algorithm) ? { burst: p.burst } : {}),
      blockFor: p.blockForMs > 0 ? p.blockForMs : blockForMs,
      name: p.name,
      ...(p.algorithm === "leaky-bucket" ? { mode: p.mode } : {}),
      ...(p.mode === "delay" ? { maxDelay: p.maxDelayMs } : {}),
    }),
  );
  return { inputs, policies: parsePolicies(inputs, option) };
}
