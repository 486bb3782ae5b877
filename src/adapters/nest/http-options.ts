import {
  createHttpLimiter,
  type HeaderStyle,
  type HttpLimiter,
  type HttpLimiterOptions,
} from "../../http/index.js";
import { ConfigError, type EventHub, type ProblemList, type Store } from "../../index.js";
import type { ThrottlekitModuleOptions } from "./options.js";
import type { RuleDefaults, SharedOptions } from "./route-limiters.js";

/**
 * throttlekit/http's options, applied to every guarded handler as they apply to an HTTP
 * adapter's rules (docs/http.md): the guard runs each request through the same engine. Callbacks
 * receive throttlekit/http's request, whose `raw` is the platform's request (or the WebSocket
 * client) and whose handler `executionContext(req)` gives.
 */
export type NestHttpOptions = Pick<
  HttpLimiterOptions<object>,
  | "allow"
  | "deny"
  | "listsRefresh"
  | "identityFailures"
  | "onLimited"
  | "onDenied"
  | "onIdentityError"
  | "protect"
  | "shed"
  | "onShed"
  | "countFailed"
  | "countSuccessful"
  | "logger"
> &
  RuleDefaults;

/** The module options that are throttlekit/http's, passed to every handler's limiter. */
const HTTP_KEYS = [
  "allow",
  "deny",
  "listsRefresh",
  "identityFailures",
  "onLimited",
  "onDenied",
  "onIdentityError",
  "protect",
  "shed",
  "onShed",
  "countFailed",
  "countSuccessful",
  "logger",
] as const;
const RULE_KEYS = ["cost", "concurrency", "mode", "priority", "scope"] as const;

/** Every module option that is throttlekit/http's. */
export const NEST_HTTP_KEYS = [...HTTP_KEYS, ...RULE_KEYS] as const;

/** What the module's options give every handler's limiter, and the module's own limiter. */
export type HttpParts = {
  /** The module's HTTP limiter: lists, abuse detector and load shedder; it limits nothing. */
  readonly root: HttpLimiter<object>;
  /** Every handler limiter's options, sharing the root's lists, detector and shedder. */
  readonly shared: SharedOptions;
  /** The rule options every handler's rule gets (cost, concurrency, mode, priority, scope). */
  readonly defaults: RuleDefaults;
};

/**
 * Builds the module's root limiter from its throttlekit/http options, which checks them with
 * throttlekit/http's own messages at bootstrap (the rule defaults on a rule of their own), and
 * the options every handler's limiter shares. Problems go to `problems`; undefined when the
 * store is already known to be bad, or when the root could not be built.
 */
export function httpParts(
  options: ThrottlekitModuleOptions,
  base: {
    readonly store: Store;
    readonly prefix: string;
    readonly events: EventHub;
    readonly headers: HeaderStyle | false;
  },
  storage: boolean,
  problems: ProblemList,
): HttpParts | undefined {
  const shared: SharedOptions = {
    ...base,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    // The default ip()'s trust settings, so address entries of the lists see the same client.
    ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
    ...(options.proxyHeader !== undefined ? { proxyHeader: options.proxyHeader } : {}),
    ...(options.ipv6Prefix !== undefined ? { ipv6Prefix: options.ipv6Prefix } : {}),
    ...(options.ipv4Prefix !== undefined ? { ipv4Prefix: options.ipv4Prefix } : {}),
    // A ThrottlerStorage counts fixed windows only: so does the identity-failure budget then.
    ...(storage && options.identityFailures === undefined
      ? { identityFailures: { limit: 20, window: "1m", algorithm: "fixed-window" as const } }
      : {}),
    ...pick(options, HTTP_KEYS),
  };
  const defaults: RuleDefaults = pick(options, RULE_KEYS);
  if (problems.items.some((p) => p.option === "store" || p.option === "storage")) return undefined;
  let root: HttpLimiter<object>;
  try {
    root = createHttpLimiter<object>({
      ...shared,
      rules: [
        { name: "nest", exempt: true },
        ...(Object.keys(defaults).length > 0
          ? [
              {
                ...defaults,
                name: "nest-defaults",
                policies: { limit: 1, window: 1000, algorithm: "fixed-window" as const },
              },
            ]
          : []),
      ],
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const p of error.problems) {
      // The rule defaults are module options here, not rules[1].<name>.
      const option = p.option.replace(/^rules\[1\]\./, "");
      // Options the module checked itself (headers, trustProxy...) are reported once.
      if (!problems.items.some((q) => q.option === option)) {
        problems.add(option, p.received, p.expected);
      }
    }
    return undefined;
  }
  return { root, shared: shareRoot(shared, root), defaults };
}

/**
 * The shared options with the root limiter's lists, detector and shedder instead of their
 * options: handlers' limiters share them rather than build their own.
 */
function shareRoot(shared: SharedOptions, root: HttpLimiter<object>): SharedOptions {
  const { protect: _p, shed: _s, allow: _a, deny: _d, listsRefresh: _r, ...rest } = shared;
  return {
    ...rest,
    // One snapshot of the lists for the application: a change through ThrottlekitService's
    // lists, or an automatic block of `protect`, applies to every handler at once.
    lists: root.lists,
    ...(root.protect !== undefined ? { protect: root.protect } : {}),
    ...(root.shed !== undefined ? { shed: root.shed } : {}),
  };
}

/** The keys of `options` among `keys` that are set. */
function pick<T extends object, K extends keyof T>(options: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const k of keys) if (options[k] !== undefined) out[k] = options[k];
  return out;
}
