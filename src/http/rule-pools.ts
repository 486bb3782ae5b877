import { type ConcurrencyLimiter, createConcurrencyLimiter } from "../core/concurrency.js";
import { parseTimerDuration, TIMER_DURATION_FORM } from "../core/duration.js";
import { ConfigError, ProblemList } from "../core/errors/config-error.js";
import { type EventHub, SILENT_EVENTS } from "../core/events.js";
import { createLimiter } from "../core/limiter.js";
import {
  type BlockForInput,
  BUCKETS,
  blockForInput,
  MAX_LIMIT,
  type Policy,
  type PolicyInput,
  type PolicyOptions,
  parsePolicies,
} from "../core/policy.js";
import { DynamicPolicies, type PolicyFunction } from "./dynamic-policies.js";
import { headerRenderer } from "./headers.js";
import type { BuildContext, PolicySet, RuleConcurrency, RulePenalties, Target } from "./rules.js";
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
  private readonly slotsBuilt = new Map<
    string,
    { slots: ConcurrencyLimiter | undefined; signature: string; where: string }
  >();

  private readonly dynamicBuilt = new Map<
    string,
    { dynamic: DynamicPolicies<never>; where: string }
  >();

  constructor(
    private readonly ctx: BuildContext,
    private readonly problems: ProblemList,
  ) {}

  /**
   * The policies of `pool` computed per request by `fn` (issue 19 item 3): built on first use,
   * shared after. Rules of one zone must give the same function.
   */
  dynamic<Raw>(
    pool: string,
    zone: string | undefined,
    fn: PolicyFunction<Raw>,
    penalties: RulePenalties,
    option: string,
  ): DynamicPolicies<Raw> {
    const prior = this.dynamicBuilt.get(pool);
    if (prior !== undefined) {
      if (prior.dynamic.fn !== (fn as unknown)) {
        this.problems.add(
          option,
          fn,
          `the same function as ${prior.where}: rules sharing zone "${zone}" share one pool`,
        );
      }
      return prior.dynamic as unknown as DynamicPolicies<Raw>;
    }
    if (this.built.has(`${pool}\u0000default`)) {
      this.problems.add(option, fn, `policies, as the other rules sharing zone "${zone}" have`);
    }
    const ctx = this.ctx;
    const dynamic = new DynamicPolicies<Raw>(fn, option, (input) => {
      const problems = new ProblemList();
      const parsed = parseWithBlock(input, option, penalties.blockFor, problems);
      problems.throwIfAny();
      // The group is "default", as for static policies: counters are those of the rule and the
      // policies' ids, so a rule that moves to a function returning the same policies keeps them.
      return buildTarget(ctx, `${pool}:default`, parsed!, penalties.ban);
    });
    this.dynamicBuilt.set(pool, { dynamic: dynamic as never, where: option });
    return dynamic;
  }

  /** The target of `pool` for `group`: built on first use, shared after. */
  target(
    pool: string,
    zone: string | undefined,
    group: string,
    input: PolicySet | Unlimited,
    penalties: RulePenalties,
    option: string,
    at: string,
  ): Target | Unlimited | undefined {
    const problems = this.problems;
    const parsed =
      input === UNLIMITED ? UNLIMITED : parseWithBlock(input, option, penalties.blockFor, problems);
    if (parsed === undefined) return undefined;
    const ban = penalties.ban;
    const signature =
      parsed === UNLIMITED
        ? "unlimited"
        : `${parsed.policies.map((p) => `${p.id}+${p.blockForMs}`).join("|")}${ban === undefined ? "" : `|ban:${ban.after}/${ban.withinMs}=${ban.durationMs}`}`;
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
    if (this.dynamicBuilt.has(pool)) {
      problems.add(option, input, `a function, as the other rules sharing zone "${zone}" have`);
    }
    let target: Target | Unlimited = UNLIMITED;
    if (parsed !== UNLIMITED) {
      try {
        target = buildTarget(this.ctx, `${pool}:${group}`, parsed, ban);
      } catch (error) {
        // Only reachable with names already reported as invalid (too long a prefix).
        if (!(error instanceof ConfigError)) throw error;
        for (const p of error.problems) problems.add(`${at}.${p.option}`, p.received, p.expected);
        return undefined;
      }
    }
    this.built.set(id, { target, signature, where: option });
    return target;
  }

  /**
   * The concurrency slots of `pool`: built on first use, shared after. Every rule of a zone
   * must declare the same `concurrency` (or none): a zone is one set of slots.
   */
  slots(
    pool: string,
    zone: string | undefined,
    input: RuleConcurrency | undefined,
    option: string,
  ): ConcurrencyLimiter | undefined {
    const problems = this.problems;
    const parsed = parseConcurrency(input, option, problems);
    if (parsed === "bad") return undefined;
    const signature = parsed === undefined ? "none" : `${parsed.max}:${parsed.leaseMs}`;
    const prior = this.slotsBuilt.get(pool);
    if (prior !== undefined) {
      if (prior.signature !== signature) {
        problems.add(
          option,
          input,
          `the same concurrency as ${prior.where}: rules sharing zone "${zone}" share its slots`,
        );
      }
      return prior.slots;
    }
    let slots: ConcurrencyLimiter | undefined;
    if (parsed !== undefined) {
      const ctx = this.ctx;
      try {
        // Its own namespace beside the rate counters (`<prefix>:<pool>:<group>`), so neither
        // can read the other's keys.
        slots = createConcurrencyLimiter({
          max: parsed.max,
          leaseMs: parsed.leaseMs,
          store: ctx.store,
          prefix: `${ctx.prefix}:cc:${pool}`,
          ...(ctx.clock !== undefined ? { clock: ctx.clock } : {}),
        });
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        for (const p of error.problems) {
          problems.add(
            option,
            p.option === "store" ? p.received : input,
            p.option === "store" ? `${p.expected}, for concurrency` : p.expected,
          );
        }
        return undefined;
      }
    }
    this.slotsBuilt.set(pool, { slots, signature, where: option });
    return slots;
  }
}

/**
 * The limiter and header renderer of one pool and group (`where`: "<pool>:<group>"). Throws a
 * ConfigError only for names already reported as invalid.
 */
function buildTarget(
  ctx: BuildContext,
  where: string,
  parsed: { inputs: PolicyInput[]; policies: Policy[] },
  ban: RulePenalties["ban"],
): Target {
  const limiter = createLimiter({
    policies: parsed.inputs,
    store: ctx.store,
    prefix: `${ctx.prefix}:${where}`,
    // The engine emits each request's event itself (SILENT_EVENTS); a ban's autoBlock goes to
    // the HTTP limiter's hub.
    events: ban !== undefined && ctx.events !== undefined ? banEvents(ctx.events) : SILENT_EVENTS,
    ...(ctx.clock !== undefined ? { clock: ctx.clock } : {}),
    ...(ban !== undefined
      ? {
          ban: { after: ban.after, within: ban.withinMs, duration: ban.durationMs },
          ...(ctx.logger !== undefined ? { logger: ctx.logger } : {}),
        }
      : {}),
  });
  return {
    limiter,
    render: headerRenderer(ctx.headers, parsed.policies, ctx.clock ?? Date.now),
    policies: parsed.policies,
  };
}

/** A slot lives this long unless renewed; live requests renew theirs every third of it. */
export const DEFAULT_LEASE_MS = 30_000;
const CONCURRENCY_FORM = "a whole number ≥ 1, or { max, leaseMs? }";

/**
 * Parses a rule's `concurrency` (problems under `option`): undefined when absent or bad.
 */
function parseConcurrency(
  input: RuleConcurrency | undefined,
  option: string,
  problems: ProblemList,
): { max: number; leaseMs: number } | "bad" | undefined {
  if (input === undefined) return undefined;
  const object = typeof input === "object" && input !== null && !Array.isArray(input);
  if (typeof input !== "number" && !object) {
    problems.add(option, input, CONCURRENCY_FORM);
    return "bad";
  }
  const before = problems.items.length;
  let max: unknown = input;
  let leaseMs: number | undefined = DEFAULT_LEASE_MS;
  if (object) {
    problems.unknownKeys(input, ["max", "leaseMs"], option);
    max = input.max;
    if (input.leaseMs !== undefined) {
      leaseMs = parseTimerDuration(input.leaseMs);
      if (leaseMs === undefined)
        problems.add(`${option}.leaseMs`, input.leaseMs, TIMER_DURATION_FORM);
    }
  }
  if (!(Number.isSafeInteger(max) && (max as number) >= 1 && (max as number) <= MAX_LIMIT)) {
    problems.add(object ? `${option}.max` : option, max, `a whole number from 1 to ${MAX_LIMIT}`);
  }
  if (problems.items.length > before) return "bad";
  return { max: max as number, leaseMs: leaseMs! };
}

/**
 * Parses a rule's policies under their option path; with a rule-level blockFor (a duration or
 * an escalation), rewrites them as objects carrying it (a policy's own blockFor wins).
 */
function parseWithBlock(
  input: PolicySet,
  option: string,
  blockFor: BlockForInput | undefined,
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
  if (blockFor === undefined || blockFor === 0) return { inputs: list, policies };
  const inputs = policies.map(
    (p): PolicyOptions => ({
      limit: p.limit,
      window: p.windowMs,
      algorithm: p.algorithm,
      ...(BUCKETS.has(p.algorithm) ? { burst: p.burst } : {}),
      blockFor: blockForInput(p) ?? blockFor,
      name: p.name,
      ...(p.algorithm === "leaky-bucket" ? { mode: p.mode } : {}),
      ...(p.mode === "delay" ? { maxDelay: p.maxDelayMs } : {}),
    }),
  );
  return { inputs, policies: parsePolicies(inputs, option) };
}

/**
 * The hub of a rule limiter with a ban: silent for decisions (the engine emits those), the ban's
 * `autoBlock` passed on to the HTTP limiter's hub.
 */
function banEvents(hub: EventHub): EventHub {
  return Object.freeze({
    ...SILENT_EVENTS,
    wants: (type: string) => type === "autoBlock" && hub.wants("autoBlock"),
    emit: ((type: string, event: never) => {
      if (type === "autoBlock") hub.emit("autoBlock", event);
    }) as EventHub["emit"],
  });
}
