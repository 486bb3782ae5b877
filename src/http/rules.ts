import { type BanOptions, type BanSpec, checkBan } from "../core/ban.js";
import type { ConcurrencyLimiter } from "../core/concurrency.js";
import type { Duration } from "../core/duration.js";
import type { ProblemList } from "../core/errors/config-error.js";
import type { EventHub } from "../core/events.js";
import type { Limiter } from "../core/limiter.js";
import type { Logger } from "../core/logger.js";
import {
  type BlockForInput,
  type Policy,
  type PolicyInput,
  parseBlockFor,
} from "../core/policy.js";
import type { Store } from "../core/store.js";
import type { DynamicPolicies, PolicyFunction } from "./dynamic-policies.js";
import type { HeaderRenderer, HeaderStyle } from "./headers.js";
import type { Identity } from "./identity/types.js";
import {
  compilePath,
  type PathMatcher,
  type PathPattern,
  pathPatternProblem,
} from "./path-pattern.js";
import type { HttpRequest, MaybePromise } from "./request.js";
import { Pools } from "./rule-pools.js";
import { RULE_SCOPES, type RuleScope } from "./scope.js";
import { checkPriority, type Priority } from "./shedder.js";
import type { Unlimited } from "./unlimited.js";

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

/**
 * What a rule enforces: policies for everyone, UNLIMITED, policies per group, or a function of
 * the request and its identity answering policies or UNLIMITED (PolicyFunction).
 */
export type RulePolicies<Raw = unknown> =
  | PolicySet
  | Unlimited
  | GroupPolicies
  | PolicyFunction<Raw>;

/**
 * A rule's cap on requests in flight per identity: a number (`max`), or `{ max, leaseMs }`.
 * `leaseMs` is how long a slot outlives a process that died holding it; live requests renew
 * theirs, so it does not bound how long a request may run.
 *
 * @example
 * 5
 * { max: 5, leaseMs: "1m" }
 */
export type RuleConcurrency =
  | number
  | {
      /** Most requests of one identity in flight at once: a whole number ≥ 1. */
      readonly max: number;
      /** Life of a slot unless renewed (at most 24 days). @default "30s" */
      readonly leaseMs?: Duration;
    };

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
  /**
   * Names the rule's counters (and shows in outcomes, events and metrics). Counters are kept by
   * name and policy, so a rule keeps its counts wherever it moves in the list, through
   * `reload()` too.
   * @default "r-" and a hash of its `methods` and `path` (stable across reorders)
   */
  name?: string;
  /** Paths covered: "/users/:id", "/api/*", "/static/**", a RegExp, or a list. @default every path */
  path?: PathPattern | readonly PathPattern[];
  /** Methods covered ("GET", ["POST", "PUT"]); "GET" covers HEAD too. @default every method */
  methods?: string | readonly string[];
  /**
   * What to enforce; required unless `exempt` or `concurrency` is set. A function
   * `(req, { key, group }) => policies | UNLIMITED` (sync or async) computes them per request;
   * distinct results are compiled once and cached (POLICY_CACHE_SIZE of them).
   */
  policies?: RulePolicies<Raw>;
  /**
   * What one counter covers: every request the rule matches ("rule"), each route template
   * ("route": the framework's `req.route`, else the rule's path pattern that matched), or each
   * concrete path ("path"). Concurrency slots stay per rule.
   * @default "rule"
   */
  scope?: RuleScope;
  /**
   * At most this many requests of one identity in flight here at once (rules sharing a zone
   * share the slots, and must declare the same). Checked after the rate policies pass; a
   * refusal is a 429 with `Retry-After: 1` (a slot frees as soon as any of the client's requests
   * ends). The slot is given back when the response ends or the client goes away.
   * Same for every group (a group that is UNLIMITED is not capped).
   * @default undefined (no cap)
   */
  concurrency?: RuleConcurrency;
  /**
   * How much these requests matter to the load shedder (the limiter's `shed` option): under
   * overload "sheddable" requests are refused first, "critical" ones last.
   * @default "normal"
   */
  priority?: Priority;
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
  /**
   * Penalty box: once a client is rejected here, it stays rejected this long; or an escalating
   * penalty `{ base, factor?, max?, forgetAfter? }` (docs/penalties.md).
   * @default each policy's own
   */
  blockFor?: BlockForInput;
  /**
   * Blocks a client for `duration` after `after` refusals here within `within`
   * (docs/penalties.md); rules sharing a zone must declare the same.
   * @default undefined (no ban)
   */
  ban?: BanOptions;
  /** Who the client is, for this rule only. @default the limiter's identity */
  identity?: Identity<Raw>;
  /** Requests for which this rule does nothing (headers neither). @default undefined */
  skip?: (req: HttpRequest<Raw>) => MaybePromise<boolean>;
  /**
   * "shadow" decides and charges exactly as "enforce" does, emits the events (refusals with
   * `shadow: true`) and counts them in metrics, but never refuses: every request goes on, with
   * no rate-limit headers (the rule is not live for clients). For rolling a limit out (nginx
   * `limit_req_dry_run`, Envoy's shadow mode).
   * @default "enforce"
   */
  mode?: RuleMode;
};

/** Whether a rule's refusals are answered ("enforce") or only reported ("shadow"). */
export type RuleMode = "enforce" | "shadow";
export const RULE_MODES: readonly RuleMode[] = Object.freeze(["enforce", "shadow"]);

/** A rule's `blockFor` (validated, as written) and `ban`. */
export type RulePenalties = {
  readonly blockFor: BlockForInput | undefined;
  readonly ban: BanSpec | undefined;
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
  /** Function-valued policies (then `fallback` and `groups` are undefined). */
  readonly dynamic: DynamicPolicies<Raw> | undefined;
  /** What one counter covers (scope.ts). */
  readonly scope: RuleScope;
  /** The `path` patterns as text, in the order of `paths` (a "route" scope's fallback). */
  readonly patterns: readonly string[] | undefined;
  /** The rule's (or zone's) concurrency slots, keyed by identity. */
  readonly slots: ConcurrencyLimiter | undefined;
  readonly priority: Priority;
  /** `mode: "shadow"`: refusals are reported, never answered. */
  readonly shadow: boolean;
};

/** Settings every rule's limiters share. */
export type BuildContext = {
  readonly store: Store;
  readonly prefix: string;
  readonly clock: (() => number) | undefined;
  readonly headers: HeaderStyle | false;
  /** Where rule bans announce themselves (`autoBlock`). @default nowhere */
  readonly events?: EventHub;
  /** Where rule bans log (WARN_TK_AUTO_BLOCKED). @default console */
  readonly logger?: Logger;
};

const RULE_KEYS = [
  "name",
  "path",
  "methods",
  "policies",
  "zone",
  "exempt",
  "cost",
  "blockFor",
  "ban",
  "identity",
  "skip",
  "concurrency",
  "priority",
  "mode",
  "scope",
] as const;
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
  const pools = new Pools(ctx, problems);
  const names = new Set<string>();
  const defaults = defaultNames(rules);
  rules.forEach((rule, i) => {
    const at = where(i);
    const checked = checkRule(rule, defaults[i], at, names, problems);
    if (checked === undefined) return;
    const { name, exempt, cost, penalties, priority } = checked;
    const pool = rule.zone === undefined ? `r:${name}` : `z:${rule.zone}`;
    // Policies are compiled even when the rule has other problems: one run reports them all.
    const dynamic =
      !exempt && typeof rule.policies === "function"
        ? pools.dynamic(pool, rule.zone, rule.policies, penalties, `${at}.policies`)
        : undefined;
    const targets =
      exempt || rule.policies === undefined || dynamic !== undefined
        ? { fallback: undefined, groups: undefined }
        : compileTargets(rule, pool, at, penalties, pools, problems);
    if (rule.scope !== undefined && !RULE_SCOPES.includes(rule.scope))
      problems.add(`${at}.scope`, rule.scope, '"rule" | "route" | "path"');
    const slots = exempt
      ? undefined
      : pools.slots(pool, rule.zone, rule.concurrency, `${at}.concurrency`);
    out.push({
      name,
      paths: compilePaths(rule.path, `${at}.path`, problems),
      methods: compileMethods(rule.methods, `${at}.methods`, problems),
      exempt,
      identity: rule.identity,
      cost,
      skip: rule.skip,
      fallback: targets.fallback,
      groups: targets.groups !== undefined && targets.groups.size > 0 ? targets.groups : undefined,
      dynamic,
      scope: rule.scope !== undefined && RULE_SCOPES.includes(rule.scope) ? rule.scope : "rule",
      patterns: patternsOf(rule.path),
      slots,
      priority: priority ?? "normal",
      shadow: rule.mode === "shadow",
    });
  });
  return out;
}

/** Checks a rule's own options (everything but its policies); undefined when it is no object. */
function checkRule<Raw>(
  rule: HttpRule<Raw>,
  defaultName: string | undefined,
  at: string,
  names: Set<string>,
  problems: ProblemList,
):
  | {
      name: string;
      exempt: boolean;
      cost: number | ((req: HttpRequest<Raw>) => MaybePromise<number>);
      penalties: RulePenalties;
      priority: Priority | undefined;
    }
  | undefined {
  if (typeof rule !== "object" || rule === null) {
    problems.add(at, rule, "a rule object { path?, methods?, policies, ... }");
    return undefined;
  }
  problems.unknownKeys(rule, RULE_KEYS, at);
  const name = rule.name ?? defaultName ?? "r";
  if (typeof name !== "string" || !NAME.test(name))
    problems.add(`${at}.name`, rule.name, NAME_FORM);
  else if (names.has(name)) problems.add(`${at}.name`, name, "a name no other rule has");
  names.add(name);
  if (rule.zone !== undefined && (typeof rule.zone !== "string" || !NAME.test(rule.zone))) {
    problems.add(`${at}.zone`, rule.zone, NAME_FORM);
  }
  if (rule.exempt !== undefined && typeof rule.exempt !== "boolean")
    problems.add(`${at}.exempt`, rule.exempt, "true or false");
  const exempt = rule.exempt === true;
  if (
    exempt &&
    (rule.policies !== undefined || rule.zone !== undefined || rule.concurrency !== undefined)
  ) {
    problems.add(
      `${at}.exempt`,
      true,
      "an exempt rule without policies, concurrency or zone (it limits nothing)",
    );
  }
  if (!exempt && rule.policies === undefined && rule.concurrency === undefined) {
    problems.add(
      `${at}.policies`,
      undefined,
      'policies, e.g. "100/min", concurrency, e.g. 5, or exempt: true',
    );
  }
  const priority = checkPriority(rule.priority, `${at}.priority`, problems);
  if (rule.mode !== undefined && !RULE_MODES.includes(rule.mode))
    problems.add(`${at}.mode`, rule.mode, '"enforce" | "shadow"');
  const cost = rule.cost ?? 1;
  if (typeof cost !== "function" && !(Number.isSafeInteger(cost) && cost >= 0)) {
    problems.add(`${at}.cost`, rule.cost, "a whole number ≥ 0, or a function (req) => number");
  }
  for (const k of ["identity", "skip"] as const) {
    if (rule[k] !== undefined && typeof rule[k] !== "function")
      problems.add(`${at}.${k}`, rule[k], "a function");
  }
  const blockFor =
    parseBlockFor(rule.blockFor, `${at}.blockFor`, problems) === undefined
      ? undefined
      : rule.blockFor;
  const ban = checkBan(rule.ban, `${at}.ban`, problems);
  return { name, exempt, cost, penalties: { blockFor, ban }, priority };
}

/**
 * The names of unnamed rules, from what they cover (methods and paths) rather than where they
 * stand: a rule moved in the list, or one inserted before it, keeps its name and so its
 * counters (issue 18, reload). Unnamed rules covering the same requests are told apart by their
 * order among themselves ("-2", "-3"); a name another rule has explicitly is skipped.
 */
function defaultNames<Raw>(rules: readonly HttpRule<Raw>[]): (string | undefined)[] {
  const taken = new Set<unknown>();
  for (const r of rules) if (typeof r === "object" && r !== null) taken.add(r.name);
  return rules.map((r) => {
    if (typeof r !== "object" || r === null || r.name !== undefined) return undefined;
    const base = `r-${fnv1a(coverage(r.methods, r.path))}`;
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    taken.add(name);
    return name;
  });
}

/** What a rule covers, written one way whatever the spelling (case, order, one or a list). */
function coverage(methods: unknown, path: unknown): string {
  const list = (v: unknown): unknown[] | undefined =>
    v === undefined ? undefined : Array.isArray(v) ? v : [v];
  const text = (v: unknown): string =>
    v instanceof RegExp ? `re:${v.source}/${v.flags}` : `s:${String(v)}`;
  const m = list(methods)?.map((x) => String(x).toUpperCase());
  const p = list(path)?.map(text);
  return JSON.stringify([m === undefined ? null : [...new Set(m)].sort(), p?.sort() ?? null]);
}

/** FNV-1a, 32 bits, as 8 hex digits: the same on every process and runtime. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** A rule's limiters: the default target, and one per group (GroupPolicies). */
function compileTargets<Raw>(
  rule: HttpRule<Raw>,
  pool: string,
  at: string,
  penalties: RulePenalties,
  pools: Pools,
  problems: ProblemList,
): {
  fallback: Target | Unlimited | undefined;
  groups: Map<string, Target | Unlimited> | undefined;
} {
  const build = (input: PolicySet | Unlimited, group: string, option: string) =>
    pools.target(pool, rule.zone, group, input, penalties, option, at);
  const spec = rule.policies!;
  if (!isGroupPolicies(spec)) {
    return {
      fallback: build(spec as PolicySet | Unlimited, "default", `${at}.policies`),
      groups: undefined,
    };
  }
  problems.unknownKeys(spec, ["default", "groups"], `${at}.policies`);
  const fallback = build(spec.default, "default", `${at}.policies.default`);
  if (spec.groups === undefined) return { fallback, groups: undefined };
  if (typeof spec.groups !== "object" || spec.groups === null || Array.isArray(spec.groups)) {
    problems.add(
      `${at}.policies.groups`,
      spec.groups,
      "an object { <group>: policies | UNLIMITED }",
    );
    return { fallback, groups: undefined };
  }
  const groups = new Map<string, Target | Unlimited>();
  for (const [g, input] of Object.entries(spec.groups)) {
    if (!NAME.test(g) || g === "default") {
      problems.add(`${at}.policies.groups`, g, `group names of ${NAME_FORM}, other than "default"`);
      continue;
    }
    const t = build(input, `g.${g}`, `${at}.policies.groups.${g}`);
    if (t !== undefined) groups.set(g, t);
  }
  return { fallback, groups };
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

/** A rule's path patterns as text (RegExps as `/source/flags`); undefined without `path`. */
function patternsOf(path: unknown): string[] | undefined {
  if (path === undefined) return undefined;
  const list = Array.isArray(path) ? path : [path];
  return list.map((p) => String(p));
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
