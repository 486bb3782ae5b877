import { DURATION_FORM, type Duration, parseDuration } from "../core/duration.js";
import { ConfigError, type ProblemList } from "../core/errors/config-error.js";
import { createLimiter, type Limiter } from "../core/limiter.js";
import {
  BUCKETS,
  type Policy,
  type PolicyInput,
  type PolicyOptions,
  parsePolicies,
} from "../core/policy.js";
import type { Store } from "../core/store.js";
import { type HeaderRenderer, type HeaderStyle, headerRenderer } from "./headers.js";
import type { Identity } from "./identity/types.js";
import {
  compilePath,
  type PathMatcher,
  type PathPattern,
  pathPatternProblem,
} from "./path-pattern.js";
import type { HttpRequest, MaybePromise } from "./request.js";
import { UNLIMITED, type Unlimited } from "./unlimited.js";

/** One policy or several (all must pass), as createLimiter takes them. */
export type PolicySet = PolicyInput | readonly PolicyInput[];

/**
 * Policies per group: `default` for clients without a group (or one not listed), and one entry
 * per group; `UNLIMITED` means never limited.
 *
 * @example
 * { default: "10/s", groups: { admin: UNLIMITED, free: ["2/s", "500/day"] } }
 */
export type GroupPolicies = {
  readonly default: PolicySet | Unlimited;
  readonly groups?: Readonly<Record<string, PolicySet | Unlimited>>;
};

/** What a rule enforces: policies for everyone, UNLIMITED, or policies per group. */
export type RulePolicies = PolicySet | Unlimited | GroupPolicies;

/**
 * A rule: which requests it covers and how they are limited. Rules are tried in order and the
 * first that matches decides (asgi-ratelimit: order matters).
 *
 * @example
 * { path: "/login", methods: "POST", policies: "5/min", blockFor: "15m" }
 * { path: ["/users/:id", "/users/:id/**"], zone: "users", policies: { default: "100/min", groups: { admin: UNLIMITED } } }
 * { path: "/static/**", exempt: true }
 */
export type HttpRule<Raw = unknown> = {
  /** Names the rule's counters (and shows in outcomes). @default "r<index>" */
  name?: string;
  /** Paths covered: "/users/:id", "/api/*", "/static/**", a RegExp, or a list. @default every path */
  path?: PathPattern | readonly PathPattern[];
  /** Methods covered ("GET", ["POST", "PUT"]); "GET" covers HEAD too. @default every method */
  methods?: string | readonly string[];
  /** What to enforce; required unless `exempt`. */
  policies?: RulePolicies;
  /**
   * Rules with the same zone share one pool of counters (asgi-ratelimit's zone); they must
   * declare the same policies. Without a zone each rule counts on its own.
   * @default undefined
   */
  zone?: string;
  /** Matching requests are never limited (no identity is resolved, no headers are sent). @default false */
  exempt?: boolean;
  /** Units each request costs: a number, or a function of the request. @default 1 */
  cost?: number | ((req: HttpRequest<Raw>) => MaybePromise<number>);
  /** Penalty box: once a client is rejected here, it stays rejected this long. @default each policy's own */
  blockFor?: Duration;
  /** Who the client is, for this rule only. @default the limiter's identity */
  identity?: Identity<Raw>;
  /** Requests for which this rule does nothing (headers neither). @default undefined */
  skip?: (req: HttpRequest<Raw>) => MaybePromise<boolean>;
};

/** One limiter of a rule and group, with its header renderer, built once. */
export type Target = {
  readonly limiter: Limiter;
  readonly render: HeaderRenderer | undefined;
  readonly policies: readonly Policy[];
};

/** A validated rule with its matchers and limiters, ready for the request path. */
export type CompiledRule<Raw> = {
  readonly name: string;
  readonly paths: readonly PathMatcher[] | undefined;
  readonly methods: ReadonlySet<string> | undefined;
  readonly exempt: boolean;
  readonly identity: Identity<Raw> | undefined;
  readonly cost: number | ((req: HttpRequest<Raw>) => MaybePromise<number>);
  readonly skip: ((req: HttpRequest<Raw>) => MaybePromise<boolean>) | undefined;
  readonly fallback: Target | Unlimited | undefined;
  readonly groups: ReadonlyMap<string, Target | Unlimited> | undefined;
};

/** Settings every rule's limiters share. */
export type BuildContext = {
  readonly store: Store;
  readonly prefix: string;
  readonly clock: (() => number) | undefined;
  readonly headers: HeaderStyle | false;
};

const RULE_KEYS = new Set([
  "name",
  "path",
  "methods",
  "policies",
  "zone",
  "exempt",
  "cost",
  "blockFor",
  "identity",
  "skip",
]);
const NAME = /^[\w.-]{1,40}$/;
const NAME_FORM = "1 to 40 characters of letters, digits, _ . -";
const METHOD = /^[A-Za-z]{1,20}$/;

/**
 * Validates and compiles the rules (problems collected, not thrown) and builds one limiter per
 * rule (or zone) and group. Limiters of one zone and group are shared.
 */
export function compileRules<Raw>(
  rules: readonly HttpRule<Raw>[],
  ctx: BuildContext,
  problems: ProblemList,
  where: (i: number) => string,
): CompiledRule<Raw>[] {
  const out: CompiledRule<Raw>[] = [];
  const pools = new Map<string, { target: Target | Unlimited; signature: string; where: string }>();
  const names = new Set<string>();
  rules.forEach((rule, i) => {
    const at = where(i);
    if (typeof rule !== "object" || rule === null) {
      problems.add(at, rule, "a rule object { path?, methods?, policies, ... }");
      return;
    }
    const r = rule as Record<string, unknown>;
    for (const k of Object.keys(r)) {
      if (!RULE_KEYS.has(k))
        problems.add(`${at}.${k}`, r[k], `one of ${[...RULE_KEYS].join(", ")}`);
    }
    const name = rule.name ?? `r${i}`;
    if (typeof name !== "string" || !NAME.test(name))
      problems.add(`${at}.name`, rule.name, NAME_FORM);
    else if (names.has(name)) problems.add(`${at}.name`, name, "a name no other rule has");
    names.add(name);
    if (rule.zone !== undefined && (typeof rule.zone !== "string" || !NAME.test(rule.zone))) {
      problems.add(`${at}.zone`, rule.zone, NAME_FORM);
    }
    const paths = compilePaths(rule.path, `${at}.path`, problems);
    const methods = compileMethods(rule.methods, `${at}.methods`, problems);
    if (rule.exempt !== undefined && typeof rule.exempt !== "boolean")
      problems.add(`${at}.exempt`, rule.exempt, "true or false");
    const exempt = rule.exempt === true;
    if (exempt && (rule.policies !== undefined || rule.zone !== undefined)) {
      problems.add(
        `${at}.exempt`,
        true,
        "an exempt rule without policies or zone (it limits nothing)",
      );
    }
    if (!exempt && rule.policies === undefined)
      problems.add(`${at}.policies`, undefined, 'policies, e.g. "100/min", or exempt: true');
    const cost = rule.cost ?? 1;
    if (typeof cost !== "function" && !(Number.isSafeInteger(cost) && cost >= 0)) {
      problems.add(`${at}.cost`, rule.cost, "a whole number ≥ 0, or a function (req) => number");
    }
    for (const k of ["identity", "skip"] as const) {
      if (rule[k] !== undefined && typeof rule[k] !== "function")
        problems.add(`${at}.${k}`, rule[k], "a function");
    }
    let blockForMs: number | undefined;
    if (rule.blockFor !== undefined) {
      blockForMs = parseDuration(rule.blockFor);
      if (blockForMs === undefined) problems.add(`${at}.blockFor`, rule.blockFor, DURATION_FORM);
    }
    // Policies are parsed even when the rule has other problems: one run reports them all.
    let fallback: Target | Unlimited | undefined;
    let groups: Map<string, Target | Unlimited> | undefined;
    if (!exempt && rule.policies !== undefined) {
      const pool = rule.zone === undefined ? `r:${name}` : `z:${rule.zone}`;
      const build = (
        input: PolicySet | Unlimited,
        group: string,
        option: string,
      ): Target | Unlimited | undefined => {
        const parsed =
          input === UNLIMITED ? UNLIMITED : parseWithBlock(input, option, blockForMs, problems);
        if (parsed === undefined) return undefined;
        const signature =
          parsed === UNLIMITED
            ? "unlimited"
            : parsed.policies.map((p) => `${p.id}+${p.blockForMs}`).join("|");
        const id = `${pool}\u0000${group}`;
        const prior = pools.get(id);
        if (prior !== undefined) {
          if (prior.signature !== signature) {
            problems.add(
              option,
              describePolicies(input),
              `the same policies as ${prior.where}: rules sharing zone "${rule.zone}" share one pool`,
            );
          }
          return prior.target;
        }
        let target: Target | Unlimited = UNLIMITED;
        if (parsed !== UNLIMITED) {
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
            for (const p of error.problems)
              problems.add(`${at}.${p.option}`, p.received, p.expected);
            return undefined;
          }
          target = {
            limiter,
            render: headerRenderer(ctx.headers, parsed.policies, ctx.clock ?? Date.now),
            policies: parsed.policies,
          };
        }
        pools.set(id, { target, signature, where: option });
        return target;
      };
      const spec = rule.policies!;
      if (isGroupPolicies(spec)) {
        const s = spec as Record<string, unknown>;
        for (const k of Object.keys(s)) {
          if (k !== "default" && k !== "groups")
            problems.add(`${at}.policies.${k}`, s[k], "default or groups");
        }
        fallback = build(spec.default, "default", `${at}.policies.default`);
        if (spec.groups !== undefined) {
          if (
            typeof spec.groups !== "object" ||
            spec.groups === null ||
            Array.isArray(spec.groups)
          ) {
            problems.add(
              `${at}.policies.groups`,
              spec.groups,
              "an object { <group>: policies | UNLIMITED }",
            );
          } else {
            groups = new Map();
            for (const [g, input] of Object.entries(spec.groups)) {
              if (!NAME.test(g) || g === "default") {
                problems.add(
                  `${at}.policies.groups`,
                  g,
                  `group names of ${NAME_FORM}, other than "default"`,
                );
                continue;
              }
              const t = build(input, `g.${g}`, `${at}.policies.groups.${g}`);
              if (t !== undefined) groups.set(g, t);
            }
          }
        }
      } else {
        fallback = build(spec as PolicySet | Unlimited, "default", `${at}.policies`);
      }
    }
    out.push({
      name,
      paths,
      methods,
      exempt,
      identity: rule.identity,
      cost,
      skip: rule.skip,
      fallback,
      groups: groups !== undefined && groups.size > 0 ? groups : undefined,
    });
  });
  return out;
}

/**
 * The first rule whose methods and paths cover the request (asgi-ratelimit: order matters).
 * Method and path are read only when a rule asks, and once: adapters may compute them lazily.
 */
export function matchRule<Raw>(
  rules: readonly CompiledRule<Raw>[],
  req: HttpRequest<Raw>,
): CompiledRule<Raw> | undefined {
  let path: string | undefined;
  let ignoreCase = false;
  for (const rule of rules) {
    if (rule.methods !== undefined && !rule.methods.has(req.method)) continue;
    if (rule.paths !== undefined) {
      if (path === undefined) {
        path = req.path;
        ignoreCase = req.caseInsensitive === true;
      }
      let hit = false;
      for (const m of rule.paths) {
        if (m(path, ignoreCase)) {
          hit = true;
          break;
        }
      }
      if (!hit) continue;
    }
    return rule;
  }
  return undefined;
}

function isGroupPolicies(spec: unknown): spec is GroupPolicies {
  return (
    typeof spec === "object" &&
    spec !== null &&
    !Array.isArray(spec) &&
    ("default" in spec || "groups" in spec)
  );
}

function compilePaths(path: unknown, at: string, problems: ProblemList): PathMatcher[] | undefined {
  if (path === undefined) return undefined;
  const list = Array.isArray(path) ? path : [path];
  if (list.length === 0) problems.add(at, path, "a path pattern or a non-empty list of them");
  const out: PathMatcher[] = [];
  list.forEach((p, j) => {
    const problem = pathPatternProblem(p);
    if (problem !== undefined) problems.add(Array.isArray(path) ? `${at}[${j}]` : at, p, problem);
    else out.push(compilePath(p as PathPattern));
  });
  return out;
}

function compileMethods(
  methods: unknown,
  at: string,
  problems: ProblemList,
): Set<string> | undefined {
  if (methods === undefined) return undefined;
  const list = Array.isArray(methods) ? methods : [methods];
  if (list.length === 0 || !list.every((m) => typeof m === "string" && METHOD.test(m))) {
    problems.add(at, methods, 'a method such as "GET", or a non-empty list of them');
    return undefined;
  }
  const set = new Set(list.map((m: string) => m.toUpperCase()));
  // RFC 9110 §9.3.2: HEAD is GET without the content; frameworks route it to GET handlers.
  if (set.has("GET")) set.add("HEAD");
  return set;
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

function describePolicies(input: PolicySet | Unlimited): unknown {
  return input === UNLIMITED ? "UNLIMITED" : input;
}
