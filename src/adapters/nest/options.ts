import type { ExecutionContext } from "@nestjs/common";
import {
  HEADER_STYLES,
  type HeaderStyle,
  type HttpLimiter,
  type Identity,
  type IpOptions,
  ip,
  type MaybePromise,
  type ProxyHeader,
  type TrustProxy,
  type Unlimited,
} from "../../http/index.js";
import {
  ConfigError,
  createEvents,
  createMetrics,
  type EventHub,
  type Metrics,
  type MetricsOptions,
  memoryStore,
  type PolicyInput,
  ProblemList,
  type Store,
} from "../../index.js";
import { httpParts, NEST_HTTP_KEYS, type NestHttpOptions } from "./http-options.js";
import {
  inFixedWindows,
  isNamedPolicies,
  listPolicies,
  type NamedPolicies,
  type NamedPolicy,
  namePolicies,
  throttlerList,
} from "./named-policies.js";
import { RouteLimiters } from "./route-limiters.js";
import { isThrottlerShape, type ThrottlerOptions } from "./throttler-compat.js";
import { type ThrottlerStorage, throttlerStorageStore } from "./throttler-storage.js";

/**
 * Rate-limit header fields: throttlekit/http's styles, or "throttler" for @nestjs/throttler's
 * `X-RateLimit-Limit`, `-Remaining`, `-Reset` (seconds) and, on 429, `Retry-After`, one set per
 * throttler, suffixed `-<name>` for every throttler not named "default".
 */
export type NestHeaderStyle = HeaderStyle | "throttler";

/** What a limited request's message says (@nestjs/throttler's `errorMessage`). */
export type ErrorMessage =
  | string
  | ((context: ExecutionContext, detail: ThrottlerLimitDetail) => string);

/** The refusal, as @nestjs/throttler's errorMessage function receives it. */
export type ThrottlerLimitDetail = {
  /** The binding throttler's limit, window (ms) and name. */
  readonly limit: number;
  readonly ttl: number;
  readonly name: string;
  /** The client's tracker (getTracker's answer) and the store key (generateKey's). */
  readonly tracker: string;
  readonly key: string;
  /** Seconds until the request may be retried (Retry-After). */
  readonly timeToBlockExpire: number;
  /** Requests counted in the binding throttler's window. */
  readonly totalHits: number;
  readonly isBlocked: boolean;
};

/** @nestjs/throttler's getTracker option: who the client is. */
export type GetTracker = (
  // biome-ignore lint/suspicious/noExplicitAny: the platform's request, as @nestjs/throttler types it.
  req: Record<string, any>,
  context: ExecutionContext,
) => MaybePromise<string | Unlimited>;

/** @nestjs/throttler's generateKey option: the store key for a client on a handler. */
export type GenerateKey = (context: ExecutionContext, tracker: string, name: string) => string;

/**
 * Options of ThrottlekitModule.forRoot (or what forRootAsync's factory returns). Validated once
 * at bootstrap; a bad option throws one ConfigError listing every problem.
 */
export type ThrottlekitModuleOptions = {
  /**
   * The throttlers every guarded route gets: named (`{ short: "3/s", long: "100/min" }`, which
   * @Throttle() can override by name) or a plain policy list. All of a route's throttlers are
   * one all-or-nothing decision: a request rejected by one is charged to none.
   */
  throttlers: NamedPolicies | PolicyInput | readonly PolicyInput[] | readonly ThrottlerOptions[];
  /** Where counters live (memoryStore(), redisStore({ client })...). @default memoryStore() */
  store?: Store;
  /**
   * A @nestjs/throttler ThrottlerStorage instead of `store` (its fixed-window counting: see
   * throttlerStorageStore). @default undefined
   */
  storage?: ThrottlerStorage;
  /** Namespace in the store. @default "tk:nest" */
  prefix?: string;
  /** Clock in ms (tests pass throttlekit/testing's manual clock). @default the store's own time */
  clock?: () => number;
  /**
   * Who the client is, as a throttlekit/http identity (`ip()`, `jwt()`, `apiKey()`, yours).
   * It reads a canonical request whose `raw` is the platform's request (Express or Fastify).
   * @default ip({ trustProxy, proxyHeader, ipv6Prefix, ipv4Prefix })
   */
  identity?: Identity;
  /**
   * Proxies to believe for the default ip() identity. Unset, the socket's peer is the client and
   * X-Forwarded-For is never read: any client can write that header, so trusting it unguarded
   * lets everyone pick their own key.
   * @default undefined (trust nothing)
   */
  trustProxy?: TrustProxy;
  /** The forwarding header your proxies write. @default "x-forwarded-for" */
  proxyHeader?: ProxyHeader;
  /** IPv6 clients are counted per network of this prefix. @default 56 */
  ipv6Prefix?: number;
  /** IPv4 clients are counted per network of this prefix. @default 32 */
  ipv4Prefix?: number;
  /**
   * Rate-limit header fields (throttlekit/http's styles, or "throttler" for @nestjs/throttler's
   * per-throttler X-RateLimit-*), or false. Retry-After is always sent on 429.
   * @default "throttler" when `throttlers` is in @nestjs/throttler's shape, else "draft-10"
   */
  headers?: NestHeaderStyle | false;
  /** Requests to leave alone (no counting, no headers), decided per request. @default undefined */
  skipIf?: (context: ExecutionContext) => MaybePromise<boolean>;
  /** Requests whose User-Agent matches one of these are left alone (crawlers). @default [] */
  ignoreUserAgents?: readonly RegExp[];
  /** The refusal's message (the problem's `detail`). @default the quota-exceeded problem's */
  errorMessage?: ErrorMessage;
  /**
   * Who the client is, instead of `identity` (the shape of @nestjs/throttler's option). A guard
   * subclass's getTracker overrides it. @default the identity's key
   */
  getTracker?: GetTracker;
  /** The store key of a client on a handler (a guard subclass's generateKey overrides it). */
  generateKey?: GenerateKey;
  /**
   * Where every guarded decision goes (one `decision` per request, `limited`, `blocked` and
   * `violation` for refusals, rule `nest.<Controller>.<handler>`, key the tracker), with the
   * store's `degraded` / `recovered`. Injectable as THROTTLEKIT_EVENTS.
   * @default a hub of the module's own
   */
  events?: EventHub;
  /**
   * Collect metrics from those events: `true`, or the collector's options (a `store` shares
   * them with the fleet). The collector is injectable as THROTTLEKIT_METRICS.
   * @default false
   */
  metrics?: boolean | MetricsOptions;
} & NestHttpOptions;

/** The options, validated and with defaults applied; what the guard reads. */
export type ThrottlekitConfig = {
  readonly throttlers: readonly NamedPolicy[];
  readonly store: Store;
  /** True when the module made the store (it closes it on shutdown). */
  readonly ownsStore: boolean;
  readonly prefix: string;
  readonly clock: (() => number) | undefined;
  readonly identity: Identity;
  readonly headers: NestHeaderStyle | false;
  readonly skipIf: ((context: ExecutionContext) => MaybePromise<boolean>) | undefined;
  readonly ignoreUserAgents: readonly RegExp[];
  readonly errorMessage: ErrorMessage | undefined;
  readonly getTracker: GetTracker | undefined;
  readonly generateKey: GenerateKey | undefined;
  readonly events: EventHub;
  /** The `metrics` option's collector; undefined when it is off. */
  readonly metrics: Metrics | undefined;
  /**
   * The module's own HTTP limiter: the lists (store-wide), the abuse detector and the load
   * shedder every handler's limiter shares. It limits nothing itself.
   */
  readonly root: HttpLimiter<object>;
  /** `mode: "shadow"`: refusals are reported, never answered (and no rate-limit headers). */
  readonly shadow: boolean;
  /** Every guarded handler's limiter, built on its first request. */
  readonly routes: RouteLimiters;
};

const KEYS = [
  "throttlers",
  "store",
  "storage",
  "prefix",
  "clock",
  "identity",
  "trustProxy",
  "proxyHeader",
  "ipv6Prefix",
  "ipv4Prefix",
  "headers",
  "skipIf",
  "ignoreUserAgents",
  "errorMessage",
  "getTracker",
  "generateKey",
  "events",
  "metrics",
  ...NEST_HTTP_KEYS,
] as const;

/** forRoot's input: throttlekit's options, or @nestjs/throttler's array of throttlers. */
export type ThrottlekitModuleInput = ThrottlekitModuleOptions | readonly ThrottlerOptions[];

/** Validates the module options all at once and applies defaults. */
export function resolveOptions(input: ThrottlekitModuleInput): ThrottlekitConfig {
  const problems = new ProblemList();
  // @nestjs/throttler's forRoot([{ ttl, limit }]) is forRoot({ throttlers: [...] }).
  const options: ThrottlekitModuleOptions = Array.isArray(input)
    ? { throttlers: input as readonly ThrottlerOptions[] }
    : (input as ThrottlekitModuleOptions);
  if (typeof options !== "object" || options === null) {
    problems.add("ThrottlekitModule options", options, "an object { throttlers, store?, ... }");
    problems.throwIfAny();
  }
  problems.unknownKeys(options, KEYS);
  const t = options.throttlers;
  const nestShaped = Array.isArray(t) && t.some(isThrottlerShape);
  const throttlers = nestShaped
    ? throttlerList(t as readonly ThrottlerOptions[], "throttlers", problems)
    : typeof t !== "string" && !Array.isArray(t) && isNamedPolicies(t)
      ? namePolicies(t as NamedPolicies, "throttlers", problems)
      : listPolicies(t as PolicyInput | readonly PolicyInput[], "throttlers", problems);
  // Checked by the root limiter below, as throttlekit/http checks it.
  const prefix = options.prefix ?? "tk:nest";
  if (options.clock !== undefined && typeof options.clock !== "function") {
    problems.add("clock", options.clock, "a function returning the time in ms");
  }
  const store = options.store;
  if (
    store !== undefined &&
    (typeof store !== "object" || store === null || typeof store.bind !== "function")
  ) {
    problems.add("store", store, "a Store such as memoryStore() or redisStore({ client })");
  }
  let fromStorage: Store | undefined;
  if (options.storage !== undefined) {
    if (store !== undefined) {
      problems.add("storage", "storage and store", "either storage or store, not both");
    }
    try {
      fromStorage = throttlerStorageStore(options.storage);
    } catch (error) {
      collectProblems(error, problems);
    }
    // Throttlers in @nestjs/throttler's shape count the storage's way (fixed windows); one in
    // throttlekit's shape asks for an algorithm: only "fixed-window" is the storage's.
    throttlers.forEach((t, i) => {
      const fixed = inFixedWindows(t);
      if (fixed !== undefined) throttlers[i] = fixed;
      else if (t.algorithm !== "fixed-window") {
        problems.add(
          `throttlers.${t.name}`,
          t,
          '{ ttl, limit } or algorithm "fixed-window" (a ThrottlerStorage counts fixed windows)',
        );
      }
    });
  }
  const headers = options.headers ?? (nestShaped ? "throttler" : "draft-10");
  if (headers !== false && headers !== "throttler" && !HEADER_STYLES.includes(headers)) {
    problems.add(
      "headers",
      options.headers,
      `false, "throttler" or one of ${HEADER_STYLES.join(", ")}`,
    );
  }
  for (const key of ["skipIf", "getTracker", "generateKey"] as const) {
    if (options[key] !== undefined && typeof options[key] !== "function") {
      problems.add(key, options[key], "a function");
    }
  }
  const agents = options.ignoreUserAgents ?? [];
  if (!Array.isArray(agents) || !agents.every((a) => a instanceof RegExp)) {
    problems.add("ignoreUserAgents", options.ignoreUserAgents, "an array of RegExp");
  }
  const message = options.errorMessage;
  if (message !== undefined && typeof message !== "string" && typeof message !== "function") {
    problems.add("errorMessage", message, "a string or (context, detail) => string");
  }
  if (options.getTracker !== undefined && options.identity !== undefined) {
    problems.add("getTracker", options.getTracker, "either getTracker or identity, not both");
  }
  let identity = options.identity;
  if (identity !== undefined && typeof identity !== "function") {
    problems.add("identity", identity, "an identity such as ip(), jwt({...}) or (req) => key");
  }
  const ipOptions: IpOptions = {
    ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
    ...(options.proxyHeader !== undefined ? { header: options.proxyHeader } : {}),
    ...(options.ipv6Prefix !== undefined ? { ipv6Prefix: options.ipv6Prefix } : {}),
    ...(options.ipv4Prefix !== undefined ? { ipv4Prefix: options.ipv4Prefix } : {}),
  };
  if (identity !== undefined && Object.keys(ipOptions).length > 0) {
    problems.add(
      "trustProxy",
      options.trustProxy ?? options.proxyHeader ?? options.ipv6Prefix ?? options.ipv4Prefix,
      "no ip() options when identity is given (pass them to ip() inside your identity)",
    );
  }
  if (identity === undefined) {
    try {
      identity = ip(ipOptions);
    } catch (error) {
      for (const p of (
        error as { problems?: { option: string; received: unknown; expected: string }[] }
      ).problems ?? []) {
        // ip() names its options ip.<name>; here they are top-level, and `header` is proxyHeader.
        const option = p.option.replace(/^ip\./, "").replace(/^header$/, "proxyHeader");
        problems.add(option, p.received, p.expected);
      }
    }
  }
  const events = options.events ?? createEvents();
  if (
    typeof events !== "object" ||
    events === null ||
    typeof events.on !== "function" ||
    typeof events.emit !== "function"
  ) {
    problems.add("events", options.events, "an EventHub from createEvents()");
  }
  const m = options.metrics;
  if (m !== undefined && typeof m !== "boolean" && (typeof m !== "object" || m === null)) {
    problems.add("metrics", m, "true, false or the metrics options { store?, ... }");
  }
  if (options.errorMessage !== undefined && options.onLimited !== undefined) {
    problems.add(
      "errorMessage",
      options.errorMessage,
      "either errorMessage or onLimited, not both",
    );
  }
  const resolvedStore = fromStorage ?? store ?? memoryStore();
  const http = httpParts(
    options,
    { store: resolvedStore, prefix, events, headers: headers === "throttler" ? false : headers },
    fromStorage !== undefined,
    problems,
  );
  const root = http?.root;
  if (problems.items.length > 0) void root?.close();
  problems.throwIfAny();
  let metrics: Metrics | undefined;
  if (m !== undefined && m !== false) {
    try {
      metrics = createMetrics(events, {
        ...(options.clock === undefined ? {} : { clock: options.clock }),
        ...(m === true ? {} : m),
      });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      throw new ConfigError(error.problems.map((p) => ({ ...p, option: `metrics.${p.option}` })));
    }
  }
  // Outages reach the hub from bootstrap on, before any route has built its limiter.
  resolvedStore.observe?.(events);
  return {
    throttlers,
    store: resolvedStore,
    ownsStore: store === undefined && fromStorage === undefined,
    prefix,
    clock: options.clock,
    identity: identity!,
    headers,
    skipIf: options.skipIf,
    // Global flags (g, y) would make test() stateful between requests.
    ignoreUserAgents: (agents as readonly RegExp[]).map((a) =>
      a.global || a.sticky ? new RegExp(a.source, a.flags.replace(/[gy]/g, "")) : a,
    ),
    errorMessage: message,
    getTracker: options.getTracker,
    generateKey: options.generateKey,
    events,
    metrics,
    root: root!,
    shadow: options.mode === "shadow",
    routes: new RouteLimiters(throttlers, http!.shared, http!.defaults, fromStorage !== undefined),
  };
}

function collectProblems(error: unknown, problems: ProblemList): void {
  if (!(error instanceof ConfigError)) throw error;
  for (const p of error.problems) problems.add(p.option, p.received, p.expected);
}
