import type { Decision } from "../core/decision.js";
import { DURATION_FORM, type Duration, parseDuration } from "../core/duration.js";
import { ConfigError, ProblemList } from "../core/errors/config-error.js";
import type { EventHub, EventListener, ThrottleEventType } from "../core/events.js";
import { checkEvents, createLimiter } from "../core/limiter.js";
import { LOGGER_FORM, type Logger, resolveLogger } from "../core/logger.js";
import { memoryStore } from "../core/memory-store.js";
import type { MetricsSnapshot } from "../core/metrics/types.js";
import { parsePolicies } from "../core/policy.js";
import type { Store } from "../core/store.js";
import type { AbuseDetector } from "../protect/types.js";
import { addressResolver, PROXY_HEADERS, trustProxyProblem } from "./client-address.js";
import { Engine } from "./engine.js";
import { HEADER_STYLES } from "./headers.js";
import { ip, isIpIdentity } from "./identity/ip.js";
import type { Identity } from "./identity/types.js";
import type { IdentityFailures } from "./identity-failed.js";
import type { KeyOptions } from "./key-management.js";
import { type HttpLists, ListIndex, listValueProblem } from "./lists.js";
import type { HttpLimiterOptions, HttpOutcome } from "./options.js";
import { LiveLimiter, type ReloadInfo, type Running } from "./reload.js";
import { checkFixed } from "./reload-fixed.js";
import { capacityOf, fixedOf, listsOf } from "./reload-keep.js";
import type { HttpRequest, MaybePromise } from "./request.js";
import { compileRules, type HttpRule, RULE_MODES } from "./rules.js";
import { buildShedder, checkPriority, type LoadShedder } from "./shedder.js";

/**
 * The framework-neutral limiter every adapter calls. Built once; `handle` is the per-request
 * entry point.
 */
export interface HttpLimiter<Raw = unknown> {
  /**
   * Decides one request. Returns the outcome synchronously when every step is synchronous (the
   * memory store, sync identities), else a Promise; it never throws synchronously. A rejected
   * promise is an infrastructure fault (a store down): pass it to the framework's error path.
   */
  handle(req: HttpRequest<Raw>): MaybePromise<HttpOutcome>;
  /** The allow and deny lists (shared through the store). */
  readonly lists: HttpLists;
  /** The client address under the limiter's trustProxy settings (for logs, `req.ip`). */
  clientAddress(req: HttpRequest<Raw>): string | undefined;
  /**
   * The identity key `req` is counted under (its rule's identity, or the limiter's): what
   * resetKey, getKey, block and unblock take. Undefined when the identity answers UNLIMITED.
   */
  keyOf(req: HttpRequest<Raw>): Promise<string | undefined>;
  /**
   * Resets an identity key's counters: in every rule (zones and groups included), or in
   * `options.rule`. Rules counting per path or route are reached with `options.path`; rules with
   * function-valued policies reset the policy sets they have cached. Concurrency slots are not
   * counters: they are left alone. Acts on the current configuration (after a reload too).
   *
   * @example
   * await limiter.resetKey("203.0.113.7");
   * await limiter.resetKey(await limiter.keyOf(req), { rule: "login" });
   */
  resetKey(key: string, options?: KeyOptions): Promise<void>;
  /**
   * Peeks an identity key's counters without charging them: per rule, the Decision a request
   * costing 1 would get now (its default policies, or `options.group`'s), as `{ [rule]: Decision }`;
   * with `options.rule`, that rule's Decision alone (undefined when it has nothing to peek: exempt,
   * UNLIMITED, concurrency only, function-valued policies, or scoped without `options.path`).
   */
  getKey(
    key: string,
    options: KeyOptions & { readonly rule: string },
  ): Promise<Decision | undefined>;
  getKey(key: string, options?: KeyOptions): Promise<Record<string, Decision>>;
  /**
   * Blocks an identity key for `duration` in every rule (or `options.rule`): its requests are
   * refused 429 (reason "blocked", with Retry-After) until it ends or `unblock`.
   */
  block(key: string, duration: Duration, options?: KeyOptions): Promise<void>;
  /** Ends a block of `block` (or of a `blockFor` penalty or `ban`) in every rule or `options.rule`. */
  unblock(key: string, options?: KeyOptions): Promise<void>;
  /** Where one-time coded warnings go (the `logger` option; console by default). */
  readonly logger: Logger;
  /**
   * The load shedder of the `shed` option (its `inFlight` for metrics), or undefined. Pass it
   * as another limiter's `shed` to count both limiters' requests together.
   */
  readonly shed: LoadShedder | undefined;
  /**
   * Where this limiter's events go (the `events` option, or a hub of its own): one `decision`
   * per request a rule decided (and `limited` / `blocked` / `violation` for refusals), named by
   * the rule; `denied` for the deny list; the store's `degraded` / `recovered`; `autoBlock`.
   */
  readonly events: EventHub;
  /** Adds an event listener to `events`; returns the function that removes it. */
  on<K extends ThrottleEventType>(type: K, listener: EventListener<K>): () => void;
  /**
   * Counts so far, per rule and policy (the `metrics` option): requests, allowed, limited,
   * blocked, denied, degraded, shadowed, block rate; recent violations, top offenders, store
   * latency. Throws a ConfigError without the option.
   */
  metrics(): MetricsSnapshot;
  /** Starts the counts again from zero. */
  resetMetrics(): void;
  /** The abuse detector of the `protect` option (pass it to another limiter to share it). */
  readonly protect: AbuseDetector | undefined;
  /**
   * Swaps in a new configuration between requests (docs/http.md, "Reloading the
   * configuration"). `options` are the whole new options, validated as createHttpLimiter does;
   * `store`, `events`, `prefix`, `clock`, `logger`, `metrics`, `protect` and `shed` may be left
   * out (the running ones are kept) or repeated, never changed. A rule keeps its counters when
   * its name and policies are unchanged, wherever it moves. A request in flight finishes on the
   * configuration it started with; the next one sees the new one. Emits `reloaded`.
   *
   * Invalid options throw one ConfigError listing every problem, emit `reloadRejected` and log
   * WARN_TK_RELOAD_REJECTED once; the running configuration keeps serving, untouched.
   */
  reload(options: HttpLimiterOptions<Raw>, info?: ReloadInfo): void;
  /**
   * Stops list notifications, lease renewals and metrics, and closes the store if the limiter
   * created it.
   */
  close(): Promise<void>;
}

/** Failed identifications one address may make before it is answered 429 instead of 401. */
const DEFAULT_IDENTITY_FAILURES = "20/min";

const OPTION_KEYS = [
  "policies",
  "rules",
  "identity",
  "trustProxy",
  "proxyHeader",
  "ipv6Prefix",
  "ipv4Prefix",
  "store",
  "prefix",
  "clock",
  "headers",
  "skip",
  "countFailed",
  "countSuccessful",
  "onLimited",
  "onDenied",
  "onIdentityError",
  "allow",
  "deny",
  "lists",
  "listsRefresh",
  "identityFailures",
  "logger",
  "concurrency",
  "priority",
  "shed",
  "onShed",
  "mode",
  "scope",
  "events",
  "metrics",
  "protect",
] as const;

/**
 * Builds the HTTP limiter: rules compiled, one limiter per rule (or zone) and group, headers
 * pre-rendered. Every option is checked here; a bad one throws a ConfigError listing them all.
 *
 * @example
 * const limiter = createHttpLimiter({
 *   policies: "100/min",                                  // everything else
 *   rules: [
 *     { path: "/login", methods: "POST", policies: "5/min", blockFor: "15m" },
 *     { path: "/api/**", identity: jwt({ secret, groupClaim: "plan" }),
 *       policies: { default: ["10/s", "1000/day"], groups: { admin: UNLIMITED } } },
 *     { path: "/static/**", exempt: true },
 *   ],
 *   trustProxy: 1,
 * });
 * const outcome = await limiter.handle(req);   // adapters do this
 */
export function createHttpLimiter<Raw = unknown>(
  options: HttpLimiterOptions<Raw>,
): HttpLimiter<Raw> {
  const { fixed, engine } = compile(options, undefined);
  return new LiveLimiter(fixed, engine, compile);
}

/**
 * Checks `options` and builds their engine. With `running` (a reload), the fixed options
 * (reload-fixed.ts) are checked against the running ones and kept, and the lists index and the
 * renewal timer are kept when nothing about them changed. Builds nothing that needs closing
 * before every check passed.
 */
function compile<Raw>(
  options: HttpLimiterOptions<Raw>,
  running: Running<Raw> | undefined,
): Running<Raw> {
  if (typeof options !== "object" || options === null) {
    throw new ConfigError([
      {
        option: "options",
        received: options,
        expected: "an object { policies?, rules?, identity?, ... }",
      },
    ]);
  }
  const problems = new ProblemList();
  problems.unknownKeys(options, OPTION_KEYS);
  const was = running?.fixed;
  if (was !== undefined) checkFixed(options as HttpLimiterOptions, was, problems);
  const resolvedLogger = resolveLogger(options.logger);
  if (resolvedLogger === undefined) problems.add("logger", options.logger, LOGGER_FORM);
  const logger = was?.logger ?? resolvedLogger;
  const trust = trustProxyProblem(options.trustProxy);
  if (trust !== undefined) problems.add("trustProxy", options.trustProxy, trust);
  if (options.proxyHeader !== undefined && !PROXY_HEADERS.includes(options.proxyHeader)) {
    problems.add(
      "proxyHeader",
      options.proxyHeader,
      PROXY_HEADERS.map((h) => `"${h}"`).join(" | "),
    );
  }
  for (const [k, max] of [
    ["ipv6Prefix", 128],
    ["ipv4Prefix", 32],
  ] as const) {
    const v = options[k];
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= 1 && v <= max))
      problems.add(k, v, `a prefix length from 1 to ${max}`);
  }
  if (
    options.store !== undefined &&
    (typeof options.store !== "object" ||
      options.store === null ||
      typeof options.store.bind !== "function")
  ) {
    problems.add("store", options.store, "a Store such as memoryStore() or redisStore({ client })");
  }
  const prefix = options.prefix ?? was?.prefix ?? "tk";
  if (typeof prefix !== "string" || !/^[\w.:-]{1,40}$/.test(prefix)) {
    problems.add("prefix", options.prefix, "1 to 40 characters of letters, digits, _ . : -");
  }
  for (const k of [
    "identity",
    "clock",
    "skip",
    "onLimited",
    "onDenied",
    "onIdentityError",
    "onShed",
  ] as const) {
    if (options[k] !== undefined && typeof options[k] !== "function")
      problems.add(k, options[k], "a function");
  }
  for (const k of ["countFailed", "countSuccessful"] as const) {
    if (options[k] !== undefined && typeof options[k] !== "boolean")
      problems.add(k, options[k], "true or false");
  }
  if (
    options.headers !== undefined &&
    options.headers !== false &&
    !HEADER_STYLES.includes(options.headers)
  ) {
    problems.add(
      "headers",
      options.headers,
      `${HEADER_STYLES.map((s) => `"${s}"`).join(" | ")} | false`,
    );
  }
  const staticEntries: { list: "allow" | "deny"; value: string }[] = [];
  for (const list of ["allow", "deny"] as const) {
    const values = options[list];
    if (values === undefined) continue;
    if (!Array.isArray(values)) {
      problems.add(list, values, "an array of identity keys and IPs/CIDRs");
      continue;
    }
    values.forEach((value, i) => {
      const problem = listValueProblem(value);
      if (problem !== undefined) problems.add(`${list}[${i}]`, value, problem);
      else staticEntries.push({ list, value });
    });
  }
  if (options.lists !== undefined) {
    if (!(options.lists instanceof ListIndex))
      problems.add("lists", options.lists, "another limiter's `lists` (limiter.lists)");
    for (const k of ["allow", "deny", "listsRefresh"] as const) {
      if (options[k] !== undefined)
        problems.add(k, options[k], "none with `lists` (set it on the limiter that owns them)");
    }
  }
  const refreshMs = options.listsRefresh === undefined ? 5000 : parseDuration(options.listsRefresh);
  if (refreshMs === undefined || refreshMs <= 0)
    problems.add("listsRefresh", options.listsRefresh, `a positive duration: ${DURATION_FORM}`);
  const failuresInput =
    options.identityFailures === undefined ? DEFAULT_IDENTITY_FAILURES : options.identityFailures;
  if (failuresInput !== false) {
    try {
      parsePolicies(failuresInput, "identityFailures");
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const p of error.problems)
        problems.add(p.option, p.received, `${p.expected}, or false to count nothing`);
    }
  }
  const rules = Array.isArray(options.rules) ? options.rules : [];
  if (options.rules !== undefined && !Array.isArray(options.rules))
    problems.add("rules", options.rules, "an array of rules");
  if (options.policies === undefined && options.concurrency === undefined && rules.length === 0) {
    problems.add(
      "policies",
      undefined,
      'policies (e.g. "100/min"), concurrency (e.g. 5) or a non-empty rules array',
    );
  }
  const priority = checkPriority(options.priority, "priority", problems);
  if (options.mode !== undefined && !RULE_MODES.includes(options.mode))
    problems.add("mode", options.mode, '"enforce" | "shadow"');
  const events = was?.events ?? checkEvents(options.events, problems);
  const m = options.metrics;
  if (m !== undefined && typeof m !== "boolean" && (typeof m !== "object" || m === null))
    problems.add("metrics", m, "true, false or the metrics options { store?, ... }");
  const shed =
    was !== undefined
      ? was.shed
      : options.shed === undefined
        ? undefined
        : buildShedder(options.shed, "shed", problems);
  // Rules are compiled even when other options are bad, so one run reports every problem; a bad
  // store or prefix is swapped for a stand-in here (the ConfigError is thrown before any use).
  const storeOk = problems.items.every((p) => p.option !== "store");
  const ownStore = was?.ownStore ?? (options.store === undefined || !storeOk);
  const store: Store = was?.store ?? (ownStore ? memoryStore() : options.store!);
  const clock = was !== undefined ? was.clock : options.clock;
  const all: HttpRule<Raw>[] = [...rules];
  // The top-level policies, concurrency and priority are those of a catch-all rule.
  if (options.policies !== undefined || options.concurrency !== undefined) {
    all.push({
      name: "default",
      ...(options.policies !== undefined ? { policies: options.policies } : {}),
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      // Checked above: a bad one is reported once, as "priority".
      ...(options.priority !== undefined && priority !== undefined ? { priority } : {}),
      ...(options.mode !== undefined ? { mode: options.mode } : {}),
      ...(options.scope !== undefined ? { scope: options.scope } : {}),
    });
  }
  const compiled = compileRules(
    all,
    {
      store,
      prefix: was?.prefix ?? (problems.items.some((p) => p.option === "prefix") ? "tk" : prefix),
      clock: typeof clock === "function" ? clock : undefined,
      headers:
        options.headers === undefined
          ? "draft-10"
          : HEADER_STYLES.includes(options.headers as never)
            ? options.headers
            : false,
      // A rule's `ban` reports its autoBlock here, and logs it once; decisions are the
      // engine's to emit.
      events,
      ...(logger !== undefined ? { logger } : {}),
    },
    problems,
    (i) => (i < rules.length ? `rules[${i}]` : "options"),
  );
  const built =
    was ?? fixedOf(options, { store, ownStore, events, prefix, logger, shed }, problems);
  problems.throwIfAny();
  const fixed = built!;
  const now = clock ?? Date.now;

  const header = options.proxyHeader ?? "x-forwarded-for";
  const ipOptions = {
    ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
    header,
    ...(options.ipv6Prefix !== undefined ? { ipv6Prefix: options.ipv6Prefix } : {}),
    ...(options.ipv4Prefix !== undefined ? { ipv4Prefix: options.ipv4Prefix } : {}),
    logger: was !== undefined ? logger! : (options.logger ?? logger!),
  };
  const identity = options.identity ?? (ip(ipOptions) as Identity<Raw>);
  // Address entries of the lists use the top-level trust settings, or else the ones of the
  // ip() identity in use, so both agree on who the client is.
  const resolve =
    options.trustProxy === undefined && isIpIdentity(identity)
      ? identity.resolveAddress
      : addressResolver(options.trustProxy, header);
  // Failed identifications count against the client's address in the same store, under their
  // own namespace, so guessing tokens costs a budget too (issue 13, item 11).
  const identityFailures: IdentityFailures | undefined =
    failuresInput === false
      ? undefined
      : {
          limiter: createLimiter({
            policies: failuresInput,
            store,
            prefix: `${prefix}:identity-failures`,
            // Its decisions are this limiter's too: one event per failed identification.
            events,
            name: "identity-failures",
            ...(clock !== undefined ? { clock } : {}),
          }),
          ipv4Prefix: options.ipv4Prefix ?? 32,
          ipv6Prefix: options.ipv6Prefix ?? 56,
        };
  const lists = listsOf(fixed, running?.engine.lists, now, staticEntries, refreshMs!);
  fixed.current.lists ??= lists;
  const capacity = capacityOf(compiled, running?.engine.capacity, now, shed, priority);
  const engine = new Engine<Raw>(
    compiled,
    identity,
    resolve,
    now,
    lists,
    options,
    logger!,
    identityFailures,
    capacity,
    { events, collector: fixed.collector, protect: fixed.protect },
  );
  return { fixed, engine };
}
