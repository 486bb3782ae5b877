import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
  preHandlerHookHandler,
  RouteOptions,
} from "fastify";
import {
  afterNodeResponse,
  BoundedMemo,
  createHttpLimiter,
  type HttpLimiter,
  type HttpLimiterOptions,
  type HttpOutcome,
  type HttpRequest,
  type HttpRule,
  type Identity,
  isThenable,
  type MaybePromise,
  type RateLimitInfo,
  type RoutingPathOptions,
  type RulePolicies,
  rateLimitInfo,
  routingPath,
  trustProxyMismatch,
  withProblems,
} from "../http/index.js";
import {
  ConfigError,
  type ConfigProblem,
  memoryStore,
  ProblemList,
  type Store,
  warnOnce,
} from "../index.js";

/** The decision as handlers see it (the shape is throttlekit/http's). */
export type { RateLimitInfo };

/** The raw objects callbacks see on `req.raw`. */
export type FastifyRaw = { readonly request: FastifyRequest; readonly reply: FastifyReply };

/** Called with the request and its identity key (@fastify/rate-limit's callbacks). */
export type FastifyRateLimitCallback = (request: FastifyRequest, key: string) => void;

/** The plugin's options: those of the HTTP layer (see docs/http.md), plus Fastify's own. */
export type FastifyRateLimitOptions = HttpLimiterOptions<FastifyRaw> & {
  /**
   * The hook the limiter runs in. "preHandler" runs after body parsing (and after your own
   * onRequest/preValidation hooks, e.g. authentication), so `cost(req)` and identities can read
   * `req.raw.request.body`; "onRequest" refuses before Fastify reads the body at all.
   * @default "onRequest"
   */
  hook?: "onRequest" | "preHandler";
  /**
   * false: only routes with a `config.rateLimit` object are limited (opt in per route); routes
   * without one, and requests that match no route (404s), are not.
   * @default true
   */
  global?: boolean;
  /**
   * Called for each request a rule admitted under its limit (decision reason "ok"), before the
   * handler runs. @default undefined
   */
  onExceeding?: FastifyRateLimitCallback;
  /**
   * Called for each request a rule refused for the client's own traffic (reason "limited",
   * "blocked" or "cost-exceeds-limit"; in shadow mode too, where the request still goes on),
   * before the response. Never for a store outage ("degraded"), a skip, an exemption or a denial.
   * @default undefined
   */
  onExceeded?: FastifyRateLimitCallback;
};

const HOOKS = ["onRequest", "preHandler"] as const;

/**
 * A route's own limits, set in its `config.rateLimit` (or `false`: the route is not limited at
 * all, lists included). Compiled once when the route is registered, into a one-rule limiter that
 * shares the plugin's store, identity, lists, headers and responses.
 */
export type FastifyRouteRateLimit = {
  /** This route's policies. @default the plugin's top-level `policies` */
  policies?: RulePolicies;
  /** Units each request costs. @default 1 */
  cost?: number | ((req: HttpRequest<FastifyRaw>) => MaybePromise<number>);
  /** Never limited (no identity resolved, no headers); address deny entries still apply. @default false */
  exempt?: boolean;
  /**
   * Penalty box once a client is rejected on this route, or an escalating one
   * `{ base, factor?, max?, forgetAfter? }` (docs/penalties.md). @default each policy's own
   */
  blockFor?: HttpRule<FastifyRaw>["blockFor"];
  /** Blocks a client for `duration` after `after` refusals here within `within` (docs/penalties.md). */
  ban?: HttpRule<FastifyRaw>["ban"];
  /**
   * "shadow": decide, count and emit, never refuse (docs/http.md, shadow mode).
   * @default the plugin's top-level `mode`, else "enforce"
   */
  mode?: HttpRule<FastifyRaw>["mode"];
  /** Routes with the same zone share one pool of counters (same policies required). @default undefined */
  zone?: string;
  /** Who the client is, on this route. @default the plugin's identity */
  identity?: Identity<FastifyRaw>;
  /** Requests this route leaves alone. @default undefined */
  skip?: (req: HttpRequest<FastifyRaw>) => MaybePromise<boolean>;
  /**
   * Requests in flight at once per identity on this route (routes of one zone share the slots).
   * @default the plugin's top-level `concurrency`
   */
  concurrency?: HttpRule<FastifyRaw>["concurrency"];
  /** This route's priority for the plugin's load shedder (`shed`). @default the plugin's `priority`, else "normal" */
  priority?: HttpRule<FastifyRaw>["priority"];
  /**
   * Names the route's counters (1 to 40 of letters, digits, _ . -).
   * @default "rt-" and a hash of method and URL (HEAD counts as GET), stable across restarts
   */
  name?: string;
};

declare module "fastify" {
  interface FastifyContextConfig {
    /** throttlekit: this route's limits, or `false` for none. */
    rateLimit?: FastifyRouteRateLimit | false;
  }
  interface FastifyInstance {
    /** throttlekit's HTTP limiter for routes without their own config (lists, clientAddress). */
    throttlekit: HttpLimiter<FastifyRaw>;
  }
  interface FastifyRequest {
    /**
     * throttlekit: the decision on this request (limit, used, remaining, resetTime, key,
     * decision); undefined when no rule decided it (skipped, exempt, unmatched, allow list, a
     * route without limits).
     */
    rateLimit: RateLimitInfo | undefined;
  }
}

const ROUTE_KEYS = [
  "policies",
  "cost",
  "exempt",
  "blockFor",
  "ban",
  "mode",
  "zone",
  "identity",
  "skip",
  "name",
  "concurrency",
  "priority",
] as const;

/**
 * The canonical request over Fastify's request. Everything is read when asked for: headers in
 * place, the path only when a rule has paths, the peer address only for ip() and address lists,
 * `raw` only for callbacks. A request keyed by an API key never computes the other two.
 */
class FastifyHttpRequest implements HttpRequest<FastifyRaw> {
  private rawObjects: FastifyRaw | undefined;

  constructor(
    private readonly request: FastifyRequest,
    private readonly reply: FastifyReply,
    private readonly router: RouterView,
  ) {}

  get method(): string {
    return this.request.method;
  }

  get path(): string {
    return routingPath(this.request.url, this.router.path);
  }

  get caseInsensitive(): boolean {
    return this.router.caseInsensitive;
  }

  /** The matched route's URL as registered, prefix included; undefined for a 404 (no route). */
  get route(): string | undefined {
    return this.request.routeOptions.url;
  }

  get remoteAddress(): string | undefined {
    // The socket's peer, not request.ip: forwarding headers are trusted by throttlekit's own
    // trustProxy only, never by Fastify's.
    return this.request.raw.socket.remoteAddress;
  }

  get raw(): FastifyRaw {
    this.rawObjects ??= { request: this.request, reply: this.reply };
    return this.rawObjects;
  }

  header(name: string): string | undefined {
    const v = this.request.headers[name];
    return typeof v === "string" ? v : Array.isArray(v) ? v.join(", ") : undefined;
  }
}

/**
 * Rate limiting for Fastify 5: a plugin that adds an `onRequest` (or, with `hook`, a
 * `preHandler`) hook to every route registered after it (in its scope and child scopes). A
 * route's `config.rateLimit` sets its own limits, or `false` turns limiting off for it; with
 * `global: false` only routes with a `config.rateLimit` object are limited. Requests that match
 * no route (404s) are limited by the plugin's rules unless `global` is false. Handlers read the
 * decision on `request.rateLimit`.
 *
 * @example
 * import Fastify from "fastify";
 * import { fastifyRateLimit } from "throttlekit/fastify";
 *
 * const app = Fastify();
 * await app.register(fastifyRateLimit, { policies: "100/min", trustProxy: 1 });
 * app.get("/", async () => "hello");
 * app.post("/login", { config: { rateLimit: { policies: "5/min", blockFor: "15m" } } }, login);
 * app.get("/health", { config: { rateLimit: false } }, async () => "ok");
 */
export function fastifyRateLimit(
  instance: FastifyInstance,
  options: FastifyRateLimitOptions,
  done: (error?: Error) => void,
): void {
  const {
    hook: hookName = "onRequest",
    global = true,
    onExceeding,
    onExceeded,
    ...httpOptions
  } = options;
  const extra = fastifyProblems(options);
  // One store for the plugin and every route limiter, so zones and lists are shared.
  const ownStore = httpOptions.store === undefined;
  const store: Store = httpOptions.store ?? memoryStore();
  const shared: HttpLimiterOptions<FastifyRaw> = { ...httpOptions, store };
  let limiter: HttpLimiter<FastifyRaw>;
  try {
    limiter = withProblems(extra, () => createHttpLimiter<FastifyRaw>(shared));
  } catch (error) {
    done(error as Error);
    return;
  }
  const settings: HookSettings = {
    router: routerView(instance),
    now: httpOptions.clock ?? Date.now,
    onExceeding,
    onExceeded,
  };
  const limiters: HttpLimiter<FastifyRaw>[] = [limiter];
  const mismatch = trustProxyMismatch(
    "Fastify's trustProxy",
    fastifyTrustProxy(instance),
    options.trustProxy,
  );
  if (mismatch !== undefined) warnOnce(limiter.logger, "WARN_TK_TRUST_PROXY_MISMATCH", mismatch);
  const globalHook = hook(limiter, settings);

  instance.decorate("throttlekit", limiter);
  // A null-valued decorator gives every request the field from the start (one object shape);
  // a sibling scope's plugin may have added it already.
  if (!instance.hasRequestDecorator("rateLimit")) instance.decorateRequest("rateLimit", undefined);
  // Fastify's not-found handler is no route, so onRoute never sees it: without this hook a
  // request for a path that does not exist (a scanner's whole traffic) would pass unlimited and
  // unseen by the abuse detector. Routes found run their own hook (below), not this one. With
  // `global: false` nothing is limited unless a route opts in, and a 404 is no route.
  if (global) {
    // Same signature in both hooks; the cast picks one overload of addHook.
    instance.addHook(hookName as "onRequest", (request, reply, done) => {
      if (request.is404) globalHook.call(instance, request, reply, done);
      else done();
    });
  }
  instance.addHook("onRoute", (route) => {
    const config = route.config?.rateLimit;
    if (config === false || (config === undefined && !global)) return;
    let h = globalHook;
    if (config !== undefined) {
      const routeLimiter = compileRoute(route, config, shared, limiter);
      limiters.push(routeLimiter);
      h = hook(routeLimiter, settings);
    }
    // A new array every time: Fastify clones a GET route's options for its HEAD route before
    // onRoute runs, so pushing into a shared array would run the hook twice there.
    const existing = route[hookName] as unknown;
    route[hookName] =
      existing === undefined
        ? [h]
        : [h, ...(Array.isArray(existing) ? existing : [existing as onRequestHookHandler])];
  });
  instance.addHook("onClose", async () => {
    for (const l of limiters) await l.close();
    if (ownStore) await store.close?.();
  });
  done();
}

// fastify-plugin semantics by hand: the hooks apply to the scope that registers the plugin.
const meta = fastifyRateLimit as unknown as Record<symbol, unknown>;
meta[Symbol.for("skip-override")] = true;
meta[Symbol.for("fastify.display-name")] = "throttlekit";
meta[Symbol.for("plugin-meta")] = { name: "throttlekit", fastify: "5.x" };

/** The plugin's own options, checked together with the HTTP layer's (one ConfigError). */
function fastifyProblems(options: FastifyRateLimitOptions): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const { hook, global, onExceeding, onExceeded } = options;
  if (hook !== undefined && !HOOKS.includes(hook)) {
    problems.push({ option: "hook", received: hook, expected: '"onRequest" or "preHandler"' });
  }
  if (global !== undefined && typeof global !== "boolean") {
    problems.push({ option: "global", received: global, expected: "a boolean" });
  }
  for (const [option, f] of [
    ["onExceeding", onExceeding],
    ["onExceeded", onExceeded],
  ] as const) {
    if (f !== undefined && typeof f !== "function") {
      problems.push({ option, received: f, expected: "a function (request, key) => void" });
    }
  }
  return problems;
}

function compileRoute(
  route: RouteOptions,
  config: unknown,
  shared: HttpLimiterOptions<FastifyRaw>,
  plugin: HttpLimiter<FastifyRaw>,
): HttpLimiter<FastifyRaw> {
  const at = `${methodsOf(route.method).join(",")} ${route.url} config.rateLimit`;
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new ConfigError([
      {
        option: at,
        received: config,
        expected:
          "false or { policies?, cost?, exempt?, blockFor?, ban?, mode?, zone?, identity?, skip?, name?, concurrency?, priority? }",
      },
    ]);
  }
  const keys = new ProblemList();
  keys.unknownKeys(config, ROUTE_KEYS, at);
  const extra: ConfigProblem[] = [...keys.items];
  const { rules: _rules, policies, concurrency, priority, mode, ...rest } = shared;
  const rc = config as FastifyRouteRateLimit;
  const inherit = rc.exempt !== true;
  const rule = {
    ...rc,
    name: rc.name ?? routeName(route),
    policies: inherit ? (rc.policies ?? policies) : rc.policies,
    ...(inherit && rc.concurrency === undefined && concurrency !== undefined
      ? { concurrency }
      : {}),
    ...(rc.priority === undefined && priority !== undefined ? { priority } : {}),
    ...(rc.mode === undefined && mode !== undefined ? { mode } : {}),
  };
  if (rule.policies === undefined && rule.concurrency === undefined && inherit) {
    extra.push({
      option: `${at}.policies`,
      received: undefined,
      expected:
        'policies (e.g. "10/min") or concurrency, or top-level policies on the plugin to inherit',
    });
  }
  // The plugin's load shedder, not one per route: it counts this process's requests, all routes
  // together. The plugin's hub, collector and detector too: `app.throttlekit.on(...)` and
  // `metrics()` see every route, counted once, and the detector sees a client's whole traffic.
  const { shed, events, protect } = plugin;
  return withProblems(extra, () =>
    createHttpLimiter<FastifyRaw>({
      ...rest,
      ...(shed !== undefined ? { shed } : {}),
      events,
      metrics: false,
      ...(protect !== undefined ? { protect } : {}),
      rules: [rule as never],
    }),
  );
}

function methodsOf(method: RouteOptions["method"]): string[] {
  return (Array.isArray(method) ? method : [method]).map((m) => String(m).toUpperCase());
}

/** A name stable across restarts and route order: FNV-1a of the methods and URL. */
function routeName(route: RouteOptions): string {
  const methods = [...new Set(methodsOf(route.method).map((m) => (m === "HEAD" ? "GET" : m)))]
    .sort()
    .join(",");
  const s = `${methods} ${route.url}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return `rt-${(h >>> 0).toString(16).padStart(8, "0")}`;
}

/** How the instance's router (find-my-way) reads paths: rules must read them the same way. */
type RouterView = { readonly path: RoutingPathOptions; readonly caseInsensitive: boolean };

/**
 * Fastify 5 keeps its router options in `initialConfig.routerOptions` when given there, else in
 * the deprecated top-level options (read only when `routerOptions` is absent: reading them is
 * what Fastify warns about). find-my-way decodes the path, stops at `;` with
 * `useSemicolonDelimiter`, folds case without `caseSensitive`, and merges slashes with
 * `ignoreDuplicateSlashes` (issue 13, item 6); `ignoreTrailingSlash` needs nothing: rules
 * already tolerate one trailing slash.
 */
function routerView(instance: FastifyInstance): RouterView {
  const config = instance.initialConfig as Readonly<Record<string, unknown>> & {
    readonly routerOptions?: Readonly<Record<string, unknown>>;
  };
  const option = (name: string): unknown =>
    config.routerOptions !== undefined ? config.routerOptions[name] : config[name];
  return {
    path: {
      mergeSlashes: option("ignoreDuplicateSlashes") === true,
      semicolon: option("useSemicolonDelimiter") === true,
    },
    caseInsensitive: option("caseSensitive") === false,
  };
}

/**
 * The server's `trustProxy` option. Fastify exposes it only on its options object, kept under
 * the `fastify.options` symbol on the root instance (initialConfig leaves it out); undefined
 * when that symbol is not found, which reads as "not set".
 */
function fastifyTrustProxy(instance: FastifyInstance): unknown {
  for (let o: object | null = instance; o !== null; o = Object.getPrototypeOf(o)) {
    for (const s of Object.getOwnPropertySymbols(o)) {
      if (s.description === "fastify.options")
        return (o as Record<symbol, { trustProxy?: unknown } | undefined>)[s]?.trustProxy;
    }
  }
  return undefined;
}

/** What every hook of one plugin shares. */
type HookSettings = {
  readonly router: RouterView;
  readonly now: () => number;
  readonly onExceeding: FastifyRateLimitCallback | undefined;
  readonly onExceeded: FastifyRateLimitCallback | undefined;
};

/** One function for both hooks: onRequest's and preHandler's signatures are the same here. */
type Hook = onRequestHookHandler & preHandlerHookHandler;

function hook(limiter: HttpLimiter<FastifyRaw>, settings: HookSettings): Hook {
  return function throttlekit(request, reply, done) {
    const out = limiter.handle(new FastifyHttpRequest(request, reply, settings.router));
    if (!isThenable<HttpOutcome>(out)) {
      try {
        decided(out, request, settings);
      } catch (error) {
        // A callback's throw (onExceeding/onExceeded) is a fault: Fastify's error handler.
        done(error as Error);
        return;
      }
      apply(out, reply, done);
      return;
    }
    out.then(
      (o) => {
        try {
          decided(o, request, settings);
          apply(o, reply, done);
        } catch (error) {
          // Downstream code runs inside this callback: its throw must not go unhandled.
          if (!reply.sent) reply.send(error);
        }
      },
      (error: unknown) => done(error as Error),
    );
  };
}

/**
 * Header names as Fastify stores them. reply.header lower-cases every name; for a mixed-case
 * name that makes a new string per request, which must then be looked up in V8's string table
 * to become a property key. The limiter's names are a handful of constants, so each is
 * lower-cased once. Bounded (64 names; the built-in header styles use at most five).
 */
const LOWER = new BoundedMemo<string, string>(64);
function lowerCased(name: string): string {
  return LOWER.get(name) ?? LOWER.remember(name, name.toLowerCase());
}

/**
 * Puts the decision on `request.rateLimit` and calls @fastify/rate-limit's callbacks. Only when a
 * rule decided: a hook that decided nothing leaves the field as it was.
 */
function decided(o: HttpOutcome, request: FastifyRequest, s: HookSettings): void {
  const d = o.decision;
  if (d === undefined || o.key === undefined) return;
  request.rateLimit = rateLimitInfo(o, s.now);
  if (d.reason === "ok") s.onExceeding?.(request, o.key);
  else if (!d.allowed && d.reason !== "degraded") s.onExceeded?.(request, o.key);
}

function apply(o: HttpOutcome, reply: FastifyReply, done: (error?: Error) => void): void {
  if (o.action === "continue") {
    const { headers, after } = o;
    if (headers !== undefined) {
      for (const name in headers) reply.header(lowerCased(name), headers[name]!);
    }
    if (after !== undefined) afterNodeResponse(reply.raw, after);
    done();
    return;
  }
  reply.code(o.status).headers(o.headers).send(o.body);
}
