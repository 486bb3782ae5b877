import {
  BoundedMemo,
  type HttpRequest,
  type IdentityContext,
  retryAfterSeconds,
  UNLIMITED,
} from "../http/index.js";
import {
  ConfigError,
  type Decision,
  type EventHub,
  formatDuration,
  type Limiter,
} from "../index.js";
import { analyze } from "./analyze.js";
import { COST_KEYS, type ResolvedOptions, resolveOptions } from "./limiter-options.js";
import type {
  Analysis,
  AnalyzeOptions,
  CheckInput,
  CheckResult,
  CostOptions,
  GraphQLLimiter,
  GraphQLLimiterOptions,
  RateLimitExtension,
  Refusal,
} from "./types.js";

/**
 * Builds the GraphQL limiter every integration (envelop/Yoga, Apollo, Mercurius) shares; its
 * `check` is also the plain API for any other server (ratethrottle's `check_rate_limit`).
 * Options are validated all at once (one ConfigError).
 *
 * Per operation, in this order: the analysis (stopped early past maxCost/maxDepth), the static
 * limits (no store call: QUERY_TOO_DEEP, then QUERY_TOO_COMPLEX for cost, aliases, root fields,
 * and a cost above the whole points budget, which no wait could ever admit), then the identity's
 * operation rate (charged 1), then its points (charged the cost). A points refusal gives the
 * rate's unit back, so a refused operation spends nothing.
 *
 * @example
 * const limiter = createGraphQLLimiter({ maxDepth: 10, maxCost: 1000, points: "5000/h", mutations: "20/min" });
 * const r = await limiter.check({ schema, document, variables, request });
 * if (!r.allowed) throw toGraphQLError(r.refusal);
 */
export function createGraphQLLimiter<Raw = unknown>(
  options: GraphQLLimiterOptions<Raw> = {},
): GraphQLLimiter<Raw> & { readonly events: EventHub } {
  const resolved = resolveOptions(options);
  const costOptions = costOptionsOf(options);
  const limiter = new GraphQLRateLimiter(resolved, costOptions);
  PRICING.set(limiter, { settle: resolved.settle, costOptions });
  return limiter;
}

/** How a limiter prices: what an integration needs to measure the actual cost for `settle`. */
export type LimiterPricing = { readonly settle: boolean; readonly costOptions: CostOptions };

// Kept beside the limiter rather than on it: the GraphQLLimiter contract stays check/close,
// and a limiter someone else implements simply has no pricing (its integrations never settle).
const PRICING = new WeakMap<object, LimiterPricing>();

/**
 * The `settle` switch and cost options of a limiter built by createGraphQLLimiter, for
 * integrations given a built limiter: they measure `actualCost` with the same options.
 * Undefined for any other GraphQLLimiter.
 */
export function limiterPricing(limiter: GraphQLLimiter<never>): LimiterPricing | undefined {
  return PRICING.get(limiter);
}

const PLURAL = { query: "queries", mutation: "mutations", subscription: "subscriptions" } as const;
const NO_SETTLE = (): Promise<void> => Promise.resolve();
const NO_BUDGET = undefined;
const KEY_FORM = "a `request` (for the identity) or a `key`";

type PerDocument = BoundedMemo<string, Analysis>;

class GraphQLRateLimiter<Raw> implements GraphQLLimiter<Raw> {
  private readonly context: IdentityContext;
  private readonly stopAbove: { cost?: number; depth?: number };
  // Yoga, Apollo and Mercurius hand the same DocumentNode for the same query text (their parse
  // caches), so an operation whose cost no variable can change is priced once per document.
  private readonly memo = new WeakMap<object, WeakMap<object, PerDocument>>();
  readonly events: EventHub;

  constructor(
    private readonly o: ResolvedOptions<Raw>,
    private readonly costOptions: CostOptions,
  ) {
    this.context = { now: o.clock };
    this.events = o.events;
    const cost = Math.min(o.maxCost, o.pointsCapacity);
    this.stopAbove = {
      ...(cost === Number.POSITIVE_INFINITY ? {} : { cost }),
      ...(o.maxDepth === Number.POSITIVE_INFINITY ? {} : { depth: o.maxDepth }),
    };
  }

  async check(input: CheckInput<Raw>): Promise<CheckResult> {
    const analysis = this.analysisOf(input);
    const refusal = this.staticRefusal(analysis);
    if (refusal !== undefined) {
      return { allowed: false, analysis, extension: extensionOf(analysis.cost), refusal };
    }
    const rate = this.o.rates[analysis.operationType];
    const points = this.o.points;
    // Nothing to count (static limits only, or no rate for this type): no identity is needed,
    // so none can fail (ip() without an address would refuse a request nothing limits).
    const key = rate === undefined && points === undefined ? UNLIMITED : await this.keyOf(input);
    if (key === UNLIMITED) {
      return { allowed: true, analysis, extension: extensionOf(analysis.cost), settle: NO_SETTLE };
    }
    const cost = Math.ceil(analysis.cost);
    let rateDecision: Decision | undefined;
    if (rate !== undefined) {
      rateDecision = await rate.consume(key);
      if (!rateDecision.allowed) return this.refused(analysis, rateDecision, "rate");
    }
    if (points === undefined) {
      const extension = extensionOf(analysis.cost, rateDecision, this.o.clock);
      return { allowed: true, analysis, extension, settle: NO_SETTLE };
    }
    const d = await points.consume(key, { cost });
    if (!d.allowed) {
      // All-or-nothing: the operation did not run, so it does not count against its rate either.
      if (rate !== undefined) await rate.refund(key, 1).catch(ignore);
      return this.refused(analysis, d, "points");
    }
    const extension = extensionOf(analysis.cost, d, this.o.clock);
    const settle = this.o.settle && cost > 0 ? this.settler(points, key, cost) : NO_SETTLE;
    return { allowed: true, analysis, extension, settle };
  }

  close(): Promise<void> {
    // The store is the caller's (they may share it): nothing here holds a resource.
    return Promise.resolve();
  }

  /** The analysis, from the memo when no variable can change it. */
  private analysisOf(input: CheckInput<Raw>): Analysis {
    const { schema, document } = input;
    const variables = input.variables ?? null;
    const operationName = input.operationName ?? null;
    const cacheable =
      typeof schema === "object" &&
      schema !== null &&
      typeof document === "object" &&
      document !== null &&
      !(hasKeys(variables) && definesVariables(document, operationName));
    let perDocument: PerDocument | undefined;
    if (cacheable) {
      let bySchema = this.memo.get(schema);
      if (bySchema === undefined) {
        bySchema = new WeakMap();
        this.memo.set(schema, bySchema);
      }
      perDocument = bySchema.get(document);
      const hit = perDocument?.get(operationName ?? "");
      if (hit !== undefined) return hit;
    }
    const options: AnalyzeOptions = {
      ...this.costOptions,
      variables,
      operationName,
      stopAbove: this.stopAbove,
    };
    const analysis = analyze(schema, document, options);
    if (cacheable) {
      if (perDocument === undefined) {
        // Bounded: a client picks operationName, and a document holds only so many operations.
        perDocument = new BoundedMemo(16);
        this.memo.get(schema as object)!.set(document as object, perDocument);
      }
      perDocument.remember(operationName ?? "", analysis);
    }
    return analysis;
  }

  private staticRefusal(a: Analysis): Refusal | undefined {
    const o = this.o;
    if (a.depth > o.maxDepth) {
      return staticRefusal(
        "QUERY_TOO_DEEP",
        `The operation is nested ${atLeast(a)}${a.depth} levels deep; at most ${o.maxDepth} are allowed.`,
        a.depth,
        o.maxDepth,
      );
    }
    if (a.cost > o.maxCost) {
      return staticRefusal(
        "QUERY_TOO_COMPLEX",
        `The operation costs ${atLeast(a)}${a.cost}; at most ${o.maxCost} is allowed.`,
        a.cost,
        o.maxCost,
      );
    }
    if (a.aliases > o.maxAliases) {
      return staticRefusal(
        "QUERY_TOO_COMPLEX",
        `The operation has ${a.aliases} aliases; at most ${o.maxAliases} are allowed.`,
        a.aliases,
        o.maxAliases,
      );
    }
    if (a.rootFields > o.maxRootFields) {
      return staticRefusal(
        "QUERY_TOO_COMPLEX",
        `The operation selects ${a.rootFields} root fields; at most ${o.maxRootFields} are allowed.`,
        a.rootFields,
        o.maxRootFields,
      );
    }
    // Above the whole budget no wait helps: a client should simplify the query, not retry it,
    // so this is QUERY_TOO_COMPLEX (status 400), not RATE_LIMITED with an infinite wait.
    if (Math.ceil(a.cost) > o.pointsCapacity) {
      return staticRefusal(
        "QUERY_TOO_COMPLEX",
        `The operation costs ${a.cost}, more than the whole points budget (${o.pointsCapacity}).`,
        a.cost,
        o.pointsCapacity,
      );
    }
    return undefined;
  }

  private async keyOf(input: CheckInput<Raw>): Promise<string | typeof UNLIMITED> {
    if (input.key !== undefined) return input.key;
    const request: HttpRequest<Raw> | undefined = input.request;
    if (request === undefined) {
      throw new ConfigError([{ option: "check(input)", received: input, expected: KEY_FORM }]);
    }
    const id = await this.o.identity(request, this.context);
    if (id === UNLIMITED || typeof id === "string") return id;
    // Groups pick HTTP rules' policies; the GraphQL limiter has one policy set, so only the key counts.
    return id.key;
  }

  private refused(
    analysis: Analysis,
    d: Decision,
    which: "rate" | "points",
  ): CheckResult & { allowed: false } {
    // The extension reports the points budget whenever there is one (a rate's refusal did not
    // consult it: then only the cost), so `limit` and `remaining` keep one meaning per server.
    const extension =
      which === "rate" && this.o.points !== undefined
        ? extensionOf(analysis.cost)
        : extensionOf(analysis.cost, d, this.o.clock);
    return { allowed: false, analysis, extension, refusal: decisionRefusal(analysis, d, which) };
  }

  /** Refunds reserved − actual once; late (after settleTimeout) or failed settles keep the charge. */
  private settler(
    points: Limiter,
    key: string,
    reserved: number,
  ): (actual: number) => Promise<void> {
    const { clock, settleTimeoutMs } = this.o;
    const deadline = clock() + settleTimeoutMs;
    let settled = false;
    return (actual: number): Promise<void> => {
      if (settled) return Promise.resolve();
      settled = true;
      if (clock() > deadline) return Promise.resolve();
      const spent = Number.isFinite(actual) && actual > 0 ? Math.ceil(actual) : 0;
      const refund = reserved - spent;
      if (!(refund > 0)) return Promise.resolve();
      // A failed refund (the store is out) keeps the whole reservation: the safe side.
      return points.refund(key, refund).catch(ignore);
    };
  }
}

function ignore(): void {}

// A stopped analysis knows only that the figure passed the limit (Analysis.aborted).
function atLeast(a: Analysis): string {
  return a.aborted ? "at least " : "";
}

function extensionOf(cost: number, d?: Decision, clock?: () => number): RateLimitExtension {
  if (d === undefined || clock === undefined || d.reason === "degraded") {
    return { cost, remaining: NO_BUDGET, limit: NO_BUDGET, resetAt: NO_BUDGET };
  }
  return { cost, remaining: d.remaining, limit: d.limit, resetAt: clock() + d.resetMs };
}

function staticRefusal(
  code: Refusal["code"],
  message: string,
  cost: number,
  limit: number,
): Refusal {
  return {
    code,
    message,
    cost,
    limit,
    retryAfterMs: 0,
    status: 400,
    headers: {},
    decision: undefined,
  };
}

function decisionRefusal(a: Analysis, d: Decision, which: "rate" | "points"): Refusal {
  const seconds = retryAfterSeconds(d);
  const headers = seconds === undefined ? {} : { "Retry-After": String(seconds) };
  const wait = seconds === undefined ? "" : ` Retry in ${seconds} s.`;
  if (d.reason === "degraded") {
    return {
      code: "SERVICE_UNAVAILABLE",
      message: `The rate-limit store is unavailable, so the operation was not run.${wait}`,
      cost: a.cost,
      limit: d.limit,
      retryAfterMs: d.retryAfterMs,
      status: 503,
      headers,
      decision: d,
    };
  }
  const message =
    which === "points"
      ? `The operation costs ${a.cost} points and ${d.remaining} of ${d.limit} remain.${wait}`
      : `Too many ${PLURAL[a.operationType]}: at most ${d.limit} per ${formatDuration(d.policy.windowMs)}.${wait}`;
  return {
    code: "RATE_LIMITED",
    message,
    cost: a.cost,
    limit: d.limit,
    retryAfterMs: d.retryAfterMs,
    status: 429,
    headers,
    decision: d,
  };
}

function costOptionsOf(options: CostOptions): CostOptions {
  const picked: Record<string, unknown> = {};
  for (const k of COST_KEYS) {
    if (options[k] !== undefined) picked[k] = options[k];
  }
  return picked as CostOptions;
}

function hasKeys(o: Readonly<Record<string, unknown>> | null): boolean {
  if (o === null) return false;
  for (const _ in o) return true;
  return false;
}

type OperationNode = {
  readonly kind: string;
  readonly name?: { readonly value: string } | undefined;
  readonly variableDefinitions?: readonly unknown[] | undefined;
};

/** True when the selected operation declares variables (then their values may change its cost). */
function definesVariables(document: object, operationName: string | null): boolean {
  const definitions = (document as { definitions?: readonly OperationNode[] }).definitions;
  if (definitions === undefined) return true;
  for (const d of definitions) {
    if (d.kind !== "OperationDefinition") continue;
    if (operationName !== null && d.name?.value !== operationName) continue;
    if ((d.variableDefinitions?.length ?? 0) > 0) return true;
  }
  return false;
}
