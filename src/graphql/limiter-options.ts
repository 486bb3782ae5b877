import { type Identity, ip } from "../http/index.js";
import {
  ConfigError,
  createEvents,
  createLimiter,
  type EventHub,
  type Limiter,
  type Logger,
  type PolicyInput,
  ProblemList,
  parseDuration,
  parsePolicies,
} from "../index.js";
import { COST_OPTION_KEYS, costOptionProblems } from "./analysis-costs.js";
import type { GraphQLLimiterOptions, OperationType } from "./types.js";

/** The options that price a document (passed on to `analyze`). */
export const COST_KEYS = COST_OPTION_KEYS;

/** Every option createGraphQLLimiter knows (cost options included: they go to `analyze`). */
const KNOWN = [
  "maxCost",
  "maxDepth",
  "maxAliases",
  "maxRootFields",
  "points",
  "queries",
  "mutations",
  "subscriptions",
  "settle",
  "identity",
  "trustProxy",
  "proxyHeader",
  "ipv4Prefix",
  "ipv6Prefix",
  "store",
  "prefix",
  "clock",
  "logger",
  "settleTimeout",
  "events",
  ...COST_KEYS,
];

const MAX_FORM = "a whole number ≥ 0, or undefined for no limit";
const SETTLE_TIMEOUT_MS = 30_000;

/** Which option holds each operation type's rate, and the store prefix suffix it counts under. */
export const RATE_OPTIONS: Readonly<Record<OperationType, { option: string; suffix: string }>> = {
  query: { option: "queries", suffix: "q" },
  mutation: { option: "mutations", suffix: "m" },
  subscription: { option: "subscriptions", suffix: "s" },
};

/** The rule a budget's decisions are emitted under: `graphql:<option>`. */
const ruleOf = (option: string): string => `graphql:${option}`;

/** The validated, resolved options the limiter runs on. */
export type ResolvedOptions<Raw> = {
  readonly maxCost: number;
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxRootFields: number;
  readonly points: Limiter | undefined;
  /** The largest cost the points budget can ever admit (its smallest burst). */
  readonly pointsCapacity: number;
  readonly rates: Readonly<Record<OperationType, Limiter | undefined>>;
  readonly settle: boolean;
  readonly settleTimeoutMs: number;
  readonly identity: Identity<Raw>;
  readonly clock: () => number;
  readonly logger: Logger | false | undefined;
  /** The hub every budget's limiter emits into. */
  readonly events: EventHub;
};

/**
 * Validates every option at once (one ConfigError naming each problem) and builds the points
 * and rate limiters. `createLimiter`'s and `ip()`'s own problems are collected, not thrown one
 * by one, so the user sees them all.
 */
export function resolveOptions<Raw>(options: GraphQLLimiterOptions<Raw>): ResolvedOptions<Raw> {
  const problems = new ProblemList();
  if (typeof options !== "object" || options === null) {
    problems.add("options", options, "an object of GraphQL limiter options");
    problems.throwIfAny();
  }
  problems.unknownKeys(options, KNOWN);
  const max = (name: "maxCost" | "maxDepth" | "maxAliases" | "maxRootFields"): number => {
    const v = options[name];
    if (v === undefined) return Number.POSITIVE_INFINITY;
    if (!(Number.isSafeInteger(v) && v >= 0)) problems.add(name, v, MAX_FORM);
    return v;
  };
  const maxCost = max("maxCost");
  const maxDepth = max("maxDepth");
  const maxAliases = max("maxAliases");
  const maxRootFields = max("maxRootFields");
  costOptionProblems(options as Record<string, unknown>, problems);
  if (options.settle !== undefined && typeof options.settle !== "boolean") {
    problems.add("settle", options.settle, "true or false");
  }
  let settleTimeoutMs = SETTLE_TIMEOUT_MS;
  if (options.settleTimeout !== undefined) {
    const ms = parseDuration(options.settleTimeout);
    if (ms === undefined) problems.add("settleTimeout", options.settleTimeout, "a duration");
    else settleTimeoutMs = ms;
  }
  if (options.clock !== undefined && typeof options.clock !== "function") {
    problems.add("clock", options.clock, "a function returning epoch ms");
  }
  if (
    options.prefix !== undefined &&
    (typeof options.prefix !== "string" || options.prefix === "")
  ) {
    problems.add("prefix", options.prefix, "a non-empty string");
  }
  const identity = resolveIdentity(options, problems);
  const events = resolveEvents(options.events, problems);
  const prefix = typeof options.prefix === "string" ? options.prefix : "tkg";
  const build = (option: string, suffix: string): Limiter | undefined => {
    const input = (options as Record<string, unknown>)[option] as
      | PolicyInput
      | readonly PolicyInput[]
      | undefined;
    if (input === undefined) return undefined;
    try {
      parsePolicies(input);
      return createLimiterCollecting(
        input,
        options as GraphQLLimiterOptions<never>,
        `${prefix}:${suffix}`,
        { events, name: ruleOf(option) },
        problems,
      );
    } catch (error) {
      collect(error, option, problems);
      return undefined;
    }
  };
  const points = build("points", "points");
  const rates = {
    query: build(RATE_OPTIONS.query.option, RATE_OPTIONS.query.suffix),
    mutation: build(RATE_OPTIONS.mutation.option, RATE_OPTIONS.mutation.suffix),
    subscription: build(RATE_OPTIONS.subscription.option, RATE_OPTIONS.subscription.suffix),
  };
  problems.throwIfAny();
  let pointsCapacity = Number.POSITIVE_INFINITY;
  for (const p of points?.policies ?? []) pointsCapacity = Math.min(pointsCapacity, p.burst);
  const clock = options.clock ?? Date.now;
  return {
    maxCost,
    maxDepth,
    maxAliases,
    maxRootFields,
    points,
    pointsCapacity,
    rates,
    settle: options.settle === true,
    settleTimeoutMs,
    identity,
    clock,
    logger: options.logger,
    events,
  };
}

/** The `events` option: a hub (anything with on and emit), or a hub of the limiter's own. */
function resolveEvents(option: unknown, problems: ProblemList): EventHub {
  if (option === undefined) return createEvents();
  const o = option as { on?: unknown; emit?: unknown } | null;
  if (
    typeof o !== "object" ||
    o === null ||
    typeof o.on !== "function" ||
    typeof o.emit !== "function"
  ) {
    problems.add("events", option, "an EventHub from createEvents()");
    return createEvents();
  }
  return option as EventHub;
}

// createLimiter's ConfigError (store, prefix) is collected with the others, once.
function createLimiterCollecting(
  policies: PolicyInput | readonly PolicyInput[],
  options: GraphQLLimiterOptions<never>,
  prefix: string,
  emit: { readonly events: EventHub; readonly name: string },
  problems: ProblemList,
): Limiter | undefined {
  try {
    return createLimiter({
      policies,
      prefix,
      events: emit.events,
      name: emit.name,
      ...(options.store === undefined ? {} : { store: options.store }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  } catch (error) {
    // store/prefix problems are the same for every limiter: report them once.
    if (!(error instanceof ConfigError)) throw error;
    for (const p of error.problems) {
      if (!problems.items.some((q) => q.option === p.option)) {
        problems.add(p.option, p.received, p.expected);
      }
    }
    return undefined;
  }
}

function collect(error: unknown, option: string, problems: ProblemList): void {
  if (!(error instanceof ConfigError)) throw error;
  for (const p of error.problems) {
    const name = p.option === "policies" ? option : p.option.replace(/^policies/, option);
    problems.add(name, p.received, p.expected);
  }
}

function resolveIdentity<Raw>(
  options: GraphQLLimiterOptions<Raw>,
  problems: ProblemList,
): Identity<Raw> {
  if (options.identity !== undefined) {
    if (typeof options.identity !== "function") {
      problems.add("identity", options.identity, "a function (req, context) => key | UNLIMITED");
    }
    return options.identity;
  }
  const ipOptions = {
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    ...(options.proxyHeader === undefined ? {} : { header: options.proxyHeader }),
    ...(options.ipv4Prefix === undefined ? {} : { ipv4Prefix: options.ipv4Prefix }),
    ...(options.ipv6Prefix === undefined ? {} : { ipv6Prefix: options.ipv6Prefix }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  };
  try {
    return ip(ipOptions) as Identity<Raw>;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const p of error.problems) {
      // ip() names its options ip.header etc.; here they are top-level (header is proxyHeader).
      const name = p.option.replace(/^ip\./, "").replace(/^header$/, "proxyHeader");
      problems.add(name, p.received, p.expected);
    }
    return (() => "") as Identity<Raw>;
  }
}
