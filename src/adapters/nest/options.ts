import type { ExecutionContext } from "@nestjs/common";
import {
  HEADER_STYLES,
  type HeaderStyle,
  type Identity,
  type IpOptions,
  ip,
  type MaybePromise,
  type ProxyHeader,
  type TrustProxy,
} from "../../http/index.js";
import { memoryStore, type PolicyInput, ProblemList, type Store } from "../../index.js";
import {
  isNamedPolicies,
  listPolicies,
  type NamedPolicies,
  type NamedPolicy,
  namePolicies,
} from "./named-policies.js";

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
  throttlers: NamedPolicies | PolicyInput | readonly PolicyInput[];
  /** Where counters live (memoryStore(), redisStore({ client })...). @default memoryStore() */
  store?: Store;
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
  /** Rate-limit header fields (throttlekit/http's styles), or false. Retry-After is always sent on 429. @default "draft-10" */
  headers?: HeaderStyle | false;
  /** Requests to leave alone (no counting, no headers), decided per request. @default undefined */
  skipIf?: (context: ExecutionContext) => MaybePromise<boolean>;
};

/** The options, validated and with defaults applied; what the guard reads. */
export type ThrottlekitConfig = {
  readonly throttlers: readonly NamedPolicy[];
  readonly store: Store;
  /** True when the module made the store (it closes it on shutdown). */
  readonly ownsStore: boolean;
  readonly prefix: string;
  readonly clock: (() => number) | undefined;
  readonly identity: Identity;
  readonly headers: HeaderStyle | false;
  readonly skipIf: ((context: ExecutionContext) => MaybePromise<boolean>) | undefined;
};

const KEYS = [
  "throttlers",
  "store",
  "prefix",
  "clock",
  "identity",
  "trustProxy",
  "proxyHeader",
  "ipv6Prefix",
  "ipv4Prefix",
  "headers",
  "skipIf",
] as const;

/** Validates the module options all at once and applies defaults. */
export function resolveOptions(options: ThrottlekitModuleOptions): ThrottlekitConfig {
  const problems = new ProblemList();
  if (typeof options !== "object" || options === null) {
    problems.add("ThrottlekitModule options", options, "an object { throttlers, store?, ... }");
    problems.throwIfAny();
  }
  problems.unknownKeys(options, KEYS);
  const t = options.throttlers;
  const throttlers =
    typeof t !== "string" && !Array.isArray(t) && isNamedPolicies(t)
      ? namePolicies(t, "throttlers", problems)
      : listPolicies(t as PolicyInput | readonly PolicyInput[], "throttlers", problems);
  const prefix = options.prefix ?? "tk:nest";
  if (typeof prefix !== "string" || prefix.length === 0 || prefix.length > 128) {
    problems.add("prefix", options.prefix, "a string of 1 to 128 characters");
  }
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
  const headers = options.headers ?? "draft-10";
  if (headers !== false && !HEADER_STYLES.includes(headers)) {
    problems.add("headers", options.headers, `false or one of ${HEADER_STYLES.join(", ")}`);
  }
  if (options.skipIf !== undefined && typeof options.skipIf !== "function") {
    problems.add("skipIf", options.skipIf, "a function (context) => boolean");
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
  problems.throwIfAny();
  return {
    throttlers,
    store: store ?? memoryStore(),
    ownsStore: store === undefined,
    prefix,
    clock: options.clock,
    identity: identity!,
    headers,
    skipIf: options.skipIf,
  };
}
