import type { Decision, Reason } from "../core/decision.js";
import type { Duration } from "../core/duration.js";
import type { EventHub } from "../core/events.js";
import type { Logger } from "../core/logger.js";
import type { MetricsOptions } from "../core/metrics/types.js";
import type { PolicyInput } from "../core/policy.js";
import type { Store } from "../core/store.js";
import type { AbuseDetector, AbuseDetectorOptions } from "../protect/types.js";
import type { ProxyHeader, TrustProxy } from "./client-address.js";
import type { HeaderMap, HeaderStyle } from "./headers.js";
import type { Identity } from "./identity/types.js";
import type { HttpLists } from "./lists.js";
import type { PlainResponse } from "./problem.js";
import type { HttpRequest, HttpResponse, MaybePromise } from "./request.js";
import type { HttpRule, RuleConcurrency, RuleMode, RulePolicies } from "./rules.js";
import type { RuleScope } from "./scope.js";
import type { LoadShedder, Priority, ShedOptions } from "./shedder.js";

/** What `onLimited` receives. */
export type LimitedContext<Raw = unknown> = {
  readonly req: HttpRequest<Raw>;
  readonly decision: Decision;
  /**
   * Why the request was refused: "limited", "blocked", "cost-exceeds-limit", or "degraded"
   * (the store is out: `onStoreError` "fail-closed", or the local limiter of "fallback").
   */
  readonly reason: Reason;
  /** The status the default response would have: 503 when `reason` is "degraded", else 429. */
  readonly status: 429 | 503;
  readonly key: string;
  /** The client's group, when its identity named one. */
  readonly group: string | undefined;
  /** The name of the rule that matched. */
  readonly rule: string;
  /** Seconds the client should wait; undefined when the request can never pass as sent. */
  readonly retryAfter: number | undefined;
  /** The rate-limit headers and Retry-After the default response would carry. */
  readonly headers: HeaderMap;
};

/** What `onShed` receives: a request refused because this process is overloaded. */
export type ShedContext<Raw = unknown> = {
  readonly req: HttpRequest<Raw>;
  /** The priority it was refused at (its rule's, or the top-level `priority`). */
  readonly priority: Priority;
  /** The name of the rule that matched; undefined when none did. */
  readonly rule: string | undefined;
  /** Requests in flight in this process when it was refused. */
  readonly inFlight: number;
  /** Seconds the client should wait (the `shed.retryAfter` option). */
  readonly retryAfter: number;
  /** Retry-After and Cache-Control, as the default response would carry them. */
  readonly headers: HeaderMap;
};

/** What `onDenied` receives. */
export type DeniedContext<Raw = unknown> = {
  readonly req: HttpRequest<Raw>;
  /** The identity key, when the key (not the address) was on the deny list. */
  readonly key: string | undefined;
  /** The deny entry's reason ("abuse: scanning" for an automatic block of `protect`). */
  readonly reason: string | undefined;
  /**
   * The status the default response would have: 429 for an automatic block of `protect` (the
   * entry's reason starts with "abuse:"), else 403.
   */
  readonly status: 403 | 429;
  /** Seconds until the entry expires; undefined for an entry without expiry. */
  readonly retryAfter: number | undefined;
};

/** `protect`: an abuse detector, or the options to build one (createAbuseDetector). */
export type ProtectOption = AbuseDetector | Omit<AbuseDetectorOptions, "lists" | "events">;

/**
 * Options of createHttpLimiter (and of every adapter). Everything is validated at construction;
 * a bad option throws one ConfigError listing every problem.
 */
export type HttpLimiterOptions<Raw = unknown> = {
  /** Policies for every request no rule matched (a catch-all after `rules`). @default undefined */
  policies?: RulePolicies<Raw>;
  /**
   * Requests in flight per identity, for every request no rule matched (the catch-all's
   * `concurrency`, as `policies` is its policies; see HttpRule.concurrency). @default undefined
   */
  concurrency?: RuleConcurrency;
  /**
   * The load shedder's priority of every request no rule matched (rules have their own,
   * "normal" by default). @default "normal"
   */
  priority?: Priority;
  /**
   * The catch-all rule's mode (see HttpRule.mode): "shadow" decides, charges, emits and counts
   * but never refuses, and sends no rate-limit headers. Rules set their own.
   * @default "enforce"
   */
  mode?: RuleMode;
  /**
   * The catch-all rule's scope (see HttpRule.scope): "path" counts each path apart, "route" each
   * route template. Rules set their own.
   * @default "rule"
   */
  scope?: RuleScope;
  /**
   * Where this limiter's events go: one per decision (`decision`, and `limited`, `blocked`,
   * `violation` for refusals) named by the rule, `denied` for the deny list, the store's
   * `degraded` / `recovered`, `autoBlock` from `protect`. Pass one hub to several limiters
   * (and core limiters) to watch them together.
   * @default a hub of its own (`limiter.events`)
   */
  events?: EventHub;
  /**
   * Collect metrics from this limiter's events (`limiter.metrics()`): `true`, or the collector's
   * options (a `store` shares them with the fleet).
   * @default false
   */
  metrics?: boolean | MetricsOptions;
  /**
   * Abuse detection: every request that reaches a rule's decision is analyzed once (its
   * identity key, path, User-Agent and final status); suspicious clients are put on the deny
   * list (with `autoBlock`), fleet-wide through the store's lists, and answered 429 with the
   * problem type abnormal-usage-detected and Retry-After until the block ends. An AbuseDetector
   * (createAbuseDetector), or its options: the limiter then builds one on its store's lists,
   * its events, logger and clock.
   * @default undefined (no detection)
   */
  protect?: ProtectOption;
  /**
   * Load shedding (Stripe's): at most `maxInFlight` requests in flight in this process, with
   * room reserved for more important ones; past their room, "sheddable" requests are refused
   * first, then "normal" ones, with 503 temporary-reduced-capacity and Retry-After. Counted in
   * the process, before identity and before any store call: it protects this process's own
   * capacity. A LoadShedder (another limiter's `shed`) shares that limiter's count.
   * @default undefined (no shedding)
   */
  shed?: ShedOptions | LoadShedder;
  /** Rules, first match wins. @default [] */
  rules?: readonly HttpRule<Raw>[];
  /** Who the client is. @default ip({ trustProxy, proxyHeader, ipv6Prefix, ipv4Prefix }) */
  identity?: Identity<Raw>;
  /**
   * Proxies to believe, for the default ip() identity and for address entries of the lists:
   * a hop count or proxy CIDRs. Trust nothing unless you run behind proxies you control.
   * @default undefined (trust nothing; forwarding headers are ignored)
   */
  trustProxy?: TrustProxy;
  /** The one forwarding header your proxies write. @default "x-forwarded-for" */
  proxyHeader?: ProxyHeader;
  /** IPv6 clients are counted per network of this prefix. @default 56 */
  ipv6Prefix?: number;
  /** IPv4 clients are counted per network of this prefix. @default 32 */
  ipv4Prefix?: number;
  /**
   * Where one-time coded warnings go (WARN_TK_*, docs/errors.md), such as a forwarding header
   * from a private peer while `trustProxy` is unset; never one per request. `false` silences
   * them.
   * @default console
   */
  logger?: Logger | false;
  /** Where counters and lists live; one store for every rule. @default memoryStore() */
  store?: Store;
  /** Namespace in the store. @default "tk" */
  prefix?: string;
  /** Clock in ms (tests pass a manual clock). @default the store's own time */
  clock?: () => number;
  /** Rate-limit header fields to send, or false. Retry-After is sent on 429s regardless. @default "draft-10" */
  headers?: HeaderStyle | false;
  /** Requests to leave alone entirely (no counting, no headers). @default undefined */
  skip?: (req: HttpRequest<Raw>) => MaybePromise<boolean>;
  /** Count requests whose response status is ≥ 400; false refunds them after the response. @default true */
  countFailed?: boolean;
  /** Count requests whose response status is < 400; false refunds them after the response. @default true */
  countSuccessful?: boolean;
  /**
   * Builds the response for a refused request; a response without `status` gets the context's
   * `status` (429, or 503 when a store outage refused it).
   * @default a 429 problem+json (quota-exceeded); 503 (temporary-reduced-capacity) when degraded
   */
  onLimited?: (context: LimitedContext<Raw>) => MaybePromise<HttpResponse>;
  /**
   * Builds the response for a request the load shedder refused; a response without `status`
   * gets 503.
   * @default a 503 problem+json (temporary-reduced-capacity) with Retry-After
   */
  onShed?: (context: ShedContext<Raw>) => MaybePromise<HttpResponse>;
  /**
   * Builds the response for a client on the deny list; a response without `status` gets the
   * context's `status` (429 for an automatic block of `protect`, else 403).
   * @default a 403 problem+json; 429 abnormal-usage-detected with Retry-After for an automatic block
   */
  onDenied?: (context: DeniedContext<Raw>) => MaybePromise<HttpResponse>;
  /** Builds the response when the identity fails (missing or invalid credentials). @default a 401 problem+json */
  onIdentityError?: (error: unknown, req: HttpRequest<Raw>) => MaybePromise<HttpResponse>;
  /** Identity keys and addresses/CIDRs that bypass every limit (kept in this process). @default [] */
  allow?: readonly string[];
  /** Identity keys and addresses/CIDRs answered 403 (kept in this process). @default [] */
  deny?: readonly string[];
  /**
   * Another limiter's `lists`, to read the same entries through the same snapshot (one load,
   * one subscription, changes seen at once by both): several limiters in one process over one
   * set of lists (throttlekit/nest's handlers share the module's). The static `allow`, `deny`
   * and `listsRefresh` are then that limiter's, and this one never closes them.
   * @default lists of its own
   */
  lists?: HttpLists;
  /** How often lists are reloaded from a store that cannot signal changes. @default "5s" */
  listsRefresh?: Duration;
  /**
   * A budget of failed identifications (the identity threw: a bad JWT, an unknown API key) per
   * client address, counted in the store under `<prefix>:identity-failures`. Within it a failure
   * is answered 401 (`onIdentityError`); past it 429 with Retry-After (the quota-exceeded
   * problem), so guessing credentials is rate limited too. The address is the limiter's (its
   * `trustProxy`, `ipv4Prefix`, `ipv6Prefix`). A policy or policies as in `policies`
   * (`{ limit: 10, window: "1m", blockFor: "15m" }` adds a penalty), or false to count nothing.
   * @default "20/min"
   */
  identityFailures?: PolicyInput | readonly PolicyInput[] | false;
};

/** The request may proceed; set `headers` on the response and call `after` once it is sent. */
export type ContinueOutcome = {
  readonly action: "continue";
  /** Why: a decision's reason, "skipped" (skip), or "unmatched" (no rule). */
  readonly reason: Reason | "skipped" | "unmatched";
  readonly headers: HeaderMap | undefined;
  readonly decision: Decision | undefined;
  readonly key: string | undefined;
  /**
   * Call exactly once with the final status when the response has been sent, or with 499 when
   * the connection closed before it was (the client went away). Present only when something
   * waits for it: a refund (`countFailed`/`countSuccessful`), a concurrency slot, the shedder.
   */
  readonly after: ((status: number) => void) | undefined;
  /**
   * True when `after` gives capacity back (a concurrency slot, the shedder's count): call it when
   * the response has really ended (a streamed body finished or was cancelled, the socket closed),
   * not merely when the handler returned. False when `after` only refunds by status.
   */
  readonly holds: boolean;
};

/** The HTTP layer answers for the app: write this response and stop. */
export type RespondOutcome = PlainResponse & {
  readonly action: "respond";
  /** A decision's reason, "identity-error", or "shed" (the load shedder refused it). */
  readonly reason: Reason | "identity-error" | "shed";
  readonly decision: Decision | undefined;
  readonly key: string | undefined;
};

/** What `handle` decides: let the request through, or answer it. */
export type HttpOutcome = ContinueOutcome | RespondOutcome;
