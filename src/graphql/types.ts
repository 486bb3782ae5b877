/**
 * throttlekit/graphql's contract (issue 16): the shapes the analysis, the limiter and the
 * integrations (envelop/Yoga, Apollo, Mercurius, plain check) share. Written first so the parts
 * can be built side by side; each part owns its implementation file.
 */

import type { HttpRequest, Identity, ProxyHeader, TrustProxy } from "../http/index.js";
import type { Decision, Duration, EventHub, Logger, PolicyInput, Store } from "../index.js";

/** "query" | "mutation" | "subscription". */
export type OperationType = "query" | "mutation" | "subscription";

/** How `analyze` prices a document. Every option is validated (one ConfigError). */
export type CostOptions = {
  /**
   * Weights by "Type.field", "Type.*" (every field of a type) or "*.field"; exact beats
   * "Type.*" beats "*.field" beats the schema's `@cost(weight: Int)` directive beats the defaults.
   * @default {}
   */
  costs?: Readonly<Record<string, number>>;
  /** Weight of a field whose (unwrapped) type is an object, interface or union. @default 1 */
  objectCost?: number;
  /** Weight of a scalar or enum field. @default 0 */
  scalarCost?: number;
  /**
   * Arguments that bound a list field's size: the largest value given (or defaulted by the
   * schema) among them is the size. On a field whose type is not a list (a Relay connection),
   * they size its `sizedFields` instead.
   * @default ["first", "last", "limit"]
   */
  listSizeArguments?: readonly string[];
  /**
   * Child fields that a size argument on a non-list field sizes (GitHub's and the GraphQL cost
   * spec's rule for connections): `followers(first: 20) { nodes { id } }` sizes `nodes` by 20.
   * Only children whose type is a list are sized this way.
   * @default ["edges", "nodes"]
   */
  sizedFields?: readonly string[];
  /**
   * Size assumed for a list field with no size argument (and no `@cost(defaultListSize:)` /
   * `listSizes` entry): the multiplier of its subtree.
   * @default 10
   */
  defaultListSize?: number;
  /** Per-field list sizes ("Query.users": 100) for unbounded lists. @default {} */
  listSizes?: Readonly<Record<string, number>>;
  /** Name of the schema directive carrying weights. @default "cost" */
  costDirective?: string;
  /** Introspection fields (`__schema`, `__type`) cost this much each, subtree included. @default 100 */
  introspectionCost?: number;
};

export type AnalyzeOptions = CostOptions & {
  /** Variable values (for `first: $n`, `@skip(if: $x)`). @default {} */
  variables?: Readonly<Record<string, unknown>> | null;
  /** Which operation of a multi-operation document. @default the only one */
  operationName?: string | null;
  /**
   * Stop early once the cost or depth passes these (the answer then says `aborted`): bounds
   * the work an attacker's document can cause. The limiter passes its maxCost / maxDepth.
   * @default Infinity (still bounded by the node budget below)
   */
  stopAbove?: { readonly cost?: number; readonly depth?: number };
};

/** What `analyze` finds; all numbers are for the selected operation, fragments expanded. */
export type Analysis = {
  readonly operationType: OperationType;
  readonly operationName: string | undefined;
  /** The static cost: an upper bound on what executing it can resolve (docs/graphql.md). */
  readonly cost: number;
  /** Deepest field nesting (a root field is depth 1). */
  readonly depth: number;
  /** Aliased fields, counted per use (fragments expanded). */
  readonly aliases: number;
  /** Fields selected at the root, after @skip/@include, fragments expanded. */
  readonly rootFields: number;
  /** True when `stopAbove` or the node budget stopped the walk: cost/depth are then lower bounds above the limit. */
  readonly aborted: boolean;
};

/** The GraphQL limiter's options (shared by every integration). */
export type GraphQLLimiterOptions<Raw = unknown> = CostOptions & {
  /** Most cost one operation may have (QUERY_TOO_COMPLEX). @default undefined (no cap) */
  maxCost?: number;
  /** Deepest nesting (QUERY_TOO_DEEP). @default undefined */
  maxDepth?: number;
  /** Most aliased fields (QUERY_TOO_COMPLEX). @default undefined */
  maxAliases?: number;
  /** Most root fields (QUERY_TOO_COMPLEX). @default undefined */
  maxRootFields?: number;
  /** A points budget per identity, charged each operation's cost ("5000/h", any algorithm). @default undefined */
  points?: PolicyInput | readonly PolicyInput[];
  /** Operation rates per identity, each charged 1 per operation of its type. @default undefined */
  queries?: PolicyInput | readonly PolicyInput[];
  mutations?: PolicyInput | readonly PolicyInput[];
  subscriptions?: PolicyInput | readonly PolicyInput[];
  /**
   * Shopify's model: reserve the static cost, then refund the difference to the actual cost
   * measured from resolved list lengths once execution ends.
   * @default false
   */
  settle?: boolean;
  /** Who the client is (throttlekit/http identities). @default ip({ trustProxy, ... }) */
  identity?: Identity<Raw>;
  trustProxy?: TrustProxy;
  proxyHeader?: ProxyHeader;
  ipv4Prefix?: number;
  ipv6Prefix?: number;
  /** Where counters live. @default memoryStore() */
  store?: Store;
  /** @default "tkg" */
  prefix?: string;
  clock?: () => number;
  logger?: Logger | false;
  /** How long a settle may wait for execution before the reservation stands as charged. @default "30s" */
  settleTimeout?: Duration;
  /**
   * Where every decision goes: one event per budget asked, named `graphql:queries`,
   * `graphql:mutations`, `graphql:subscriptions` (the operation rates) and `graphql:points`,
   * keyed by the identity; and the store's `degraded` / `recovered`. Static refusals
   * (QUERY_TOO_DEEP, QUERY_TOO_COMPLEX) ask no budget and emit nothing.
   * @default a hub of its own (`limiter.events`)
   */
  events?: EventHub;
};

/** `extensions.rateLimit` on every response the limiter saw. */
export type RateLimitExtension = {
  readonly cost: number;
  /** Points left after this operation (the points budget's), or undefined without `points`. */
  readonly remaining: number | undefined;
  readonly limit: number | undefined;
  /** When the budget is full again, epoch ms. */
  readonly resetAt: number | undefined;
};

/**
 * Why an operation was refused; the GraphQLError's `extensions.code`. "SERVICE_UNAVAILABLE" is
 * a store outage refused under `onStoreError: "fail-closed"`: the client exceeded nothing, so it
 * is never reported as RATE_LIMITED (DESIGN: outages are not quotas).
 */
export type RefusalCode =
  | "RATE_LIMITED"
  | "QUERY_TOO_COMPLEX"
  | "QUERY_TOO_DEEP"
  | "SERVICE_UNAVAILABLE";

/** The data a refusal carries; integrations turn it into the server's GraphQLError. */
export type Refusal = {
  readonly code: RefusalCode;
  readonly message: string;
  /** The operation's cost (or depth for QUERY_TOO_DEEP: see `limit`). */
  readonly cost: number;
  /** The limit that refused it: maxCost, maxDepth, maxAliases, maxRootFields, or the policy's limit. */
  readonly limit: number;
  /** 0 for a static refusal; the wait for RATE_LIMITED (Infinity when it can never pass). */
  readonly retryAfterMs: number;
  /** HTTP status for servers that let a plugin set it: 429 (rates), 503 (store outage), 400 (static limits). */
  readonly status: number;
  /** Retry-After etc., for servers that let a plugin set headers. */
  readonly headers: Readonly<Record<string, string>>;
  readonly decision: Decision | undefined;
};

/** One operation's check: admitted (with what to report and how to settle), or refused. */
export type CheckResult =
  | {
      readonly allowed: true;
      readonly analysis: Analysis;
      readonly extension: RateLimitExtension;
      /**
       * Call once execution has ended with the actual cost (see `actualCost`), when `settle`
       * is on: refunds reserved − actual. A no-op otherwise; safe to call twice.
       */
      settle(actualCost: number): Promise<void>;
    }
  | {
      readonly allowed: false;
      readonly analysis: Analysis | undefined;
      readonly extension: RateLimitExtension | undefined;
      readonly refusal: Refusal;
    };

/** What `check` needs about one operation. */
export type CheckInput<Raw = unknown> = {
  readonly schema: unknown; // a GraphQLSchema (16 or 17): typed loosely so both majors fit
  readonly document: unknown; // a DocumentNode
  readonly variables?: Readonly<Record<string, unknown>> | null;
  readonly operationName?: string | null;
  /** The HTTP request (for the identity); undefined when there is none (then `key` is needed). */
  readonly request?: HttpRequest<Raw>;
  /** An identity key given directly (skips `identity`). */
  readonly key?: string;
};

export interface GraphQLLimiter<Raw = unknown> {
  /** Analyses, checks static limits, then charges rates and points (one decision per policy set). */
  check(input: CheckInput<Raw>): Promise<CheckResult>;
  close(): Promise<void>;
  /** Where its decisions are emitted (the `events` option, or a hub of its own). */
  readonly events?: EventHub;
}
