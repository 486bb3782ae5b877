import {
  type CanActivate,
  type ExecutionContext,
  HttpException,
  Inject,
  Injectable,
} from "@nestjs/common";
import { Reflector } from "@nestjs/core";
import {
  BoundedMemo,
  ceilSeconds,
  type HeaderMap,
  type HeaderRenderer,
  headerRenderer,
  type IdentityContext,
  type IdentityResult,
  isThenable,
  type MaybePromise,
  type PlainResponse,
  type ProblemDetails,
  type RateLimitInfo,
  rateLimitInfo,
  rejectedProblem,
  retryAfterSeconds,
  UNLIMITED,
  type Unlimited,
  unauthorizedProblem,
} from "../../http/index.js";
import {
  ConfigError,
  createLimiter,
  type Decision,
  emitDecision,
  isThrottlekitError,
  type Limiter,
  SILENT_EVENTS,
} from "../../index.js";
import type { NamedPolicy } from "./named-policies.js";
import { NestRequest, type Target, targetOf, writeHeaders } from "./nest-request.js";
import type { ErrorMessage, ThrottlekitConfig } from "./options.js";
import type { SkipThrottleMetadata } from "./skip-throttle.js";
import type { ThrottleMetadata } from "./throttle.js";
import { ThrottlekitException } from "./throttlekit-exception.js";
import { SKIP_THROTTLE_METADATA, THROTTLE_METADATA, THROTTLEKIT_CONFIG } from "./tokens.js";
import { TooManyRequestsError } from "./too-many-requests-error.js";

/** One set of limits: a limiter and its header renderer. */
type Variant = {
  readonly limiter: Limiter;
  readonly render: HeaderRenderer | undefined;
};

/** One handler's limits, built on its first request and reused for every later one. */
type Route = Variant & {
  /** The route's policies, for variants with per-request values. */
  readonly policies: readonly NamedPolicy[];
  /** Throttlers whose limit/ttl/blockDuration are functions of the context; empty if none. */
  readonly dynamic: readonly number[];
  /** Limiters by resolved values (bounded: the values may depend on the request). */
  readonly variants: BoundedMemo<string, Variant>;
  /** The route's throttler names, joined by "+" (passed to generateKey). */
  readonly name: string;
  /** The rule its decisions are emitted under: `nest:<Controller>.<handler>`. */
  readonly rule: string;
};

// Reflector holds no state: one instance reads every class's metadata, no injection needed.
const reflector = new Reflector();

/**
 * Rate limits Nest handlers. Use it globally (`{ provide: APP_GUARD, useClass: ThrottlekitGuard }`)
 * or per controller/handler with `@UseGuards(ThrottlekitGuard)`, with ThrottlekitModule imported.
 *
 * Every throttler of a route is checked as one all-or-nothing decision by one throttlekit
 * limiter, built once per handler (never per request; no timers). HTTP routes get the
 * rate-limit headers, and a 429 with Retry-After and a problem body when limited (a 503
 * temporary-reduced-capacity problem when a store outage refused the request); GraphQL
 * resolvers an error with `extensions.code: "TOO_MANY_REQUESTS"`; WebSocket handlers an
 * `exception` message and no handler call. Other contexts (microservices) are not limited.
 *
 * Subclass it to change who a client is (`getTracker`) or how counters are keyed
 * (`generateKey`).
 *
 * @example
 * class ByUser extends ThrottlekitGuard {
 *   protected override getTracker(req: Record<string, any>) { return req.user?.id ?? super.getTracker(req); }
 * }
 */
export class ThrottlekitGuard implements CanActivate {
  private readonly routes = new WeakMap<object, WeakMap<object, Route | null>>();
  private readonly identityContext: IdentityContext;

  constructor(protected readonly config: ThrottlekitConfig) {
    const clock = config.clock;
    this.identityContext = { now: clock ?? Date.now };
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const route = this.route(context.getClass(), context.getHandler());
    if (route === null) return true;
    const agents = this.config.ignoreUserAgents;
    if (agents.length > 0 && context.getType() === "http") {
      const ua = context.getArgByIndex<{ headers?: Record<string, unknown> }>(0)?.headers?.[
        "user-agent"
      ];
      if (typeof ua === "string" && agents.some((a) => a.test(ua))) return true;
    }
    const skipIf = this.config.skipIf;
    if (skipIf !== undefined) {
      const skip = skipIf(context);
      if (isThenable<boolean>(skip)) {
        return Promise.resolve(skip).then((s) => (s ? true : this.limit(context, route)));
      }
      if (skip) return true;
    }
    return this.limit(context, route);
  }

  /**
   * Who the client is, as a key. The default runs the module's identity (ip() unless
   * configured) over the platform request, or over the WebSocket client's socket. Return
   * UNLIMITED to leave a client alone.
   */
  protected getTracker(
    req: Record<string, unknown>,
    context: ExecutionContext,
  ): MaybePromise<string | Unlimited> {
    if (this.config.getTracker !== undefined) return this.config.getTracker(req, context);
    const result = this.config.identity(new NestRequest(req), this.identityContext);
    return isThenable<IdentityResult>(result)
      ? Promise.resolve(result).then(trackerOf)
      : trackerOf(result);
  }

  /**
   * The store key for one client on one handler. The default counts each handler separately
   * (`Controller.handler:tracker`); return the tracker alone to share one budget across every
   * handler with the same throttlers. `name` is the route's throttler names joined by "+".
   */
  protected generateKey(context: ExecutionContext, tracker: string, name: string): string {
    if (this.config.generateKey !== undefined) {
      return this.config.generateKey(context, tracker, name);
    }
    return `${context.getClass().name}.${context.getHandler().name}:${tracker}`;
  }

  private limit(context: ExecutionContext, route: Route): boolean | Promise<boolean> {
    if (route.dynamic.length > 0) {
      return this.variantOf(context, route).then((v) => this.limitWith(context, route, v));
    }
    return this.limitWith(context, route, route);
  }

  /** The limiter for this request's values of function-valued limit/ttl/blockDuration. */
  private async variantOf(context: ExecutionContext, route: Route): Promise<Variant> {
    const policies = [...route.policies];
    for (const i of route.dynamic) {
      const { dynamic, ...p } = policies[i]!;
      const limit = dynamic?.limit === undefined ? p.limit : await dynamic.limit(context);
      const window = dynamic?.ttl === undefined ? p.window : await dynamic.ttl(context);
      const block =
        dynamic?.blockDuration === undefined ? p.blockFor : await dynamic.blockDuration(context);
      const { blockFor: _, ...rest } = p;
      policies[i] = { ...rest, limit, window, ...(block ? { blockFor: block } : {}) };
    }
    const id = route.dynamic
      .map((i) => {
        const p = policies[i]!;
        return `${p.limit}/${String(p.window)}/${String(p.blockFor ?? 0)}`;
      })
      .join(",");
    return route.variants.get(id) ?? route.variants.remember(id, this.variant(policies));
  }

  private limitWith(
    context: ExecutionContext,
    route: Route,
    variant: Variant,
  ): boolean | Promise<boolean> {
    const target = targetOf(context);
    if (target === undefined) return true;
    let tracker: MaybePromise<string | Unlimited>;
    try {
      tracker = this.getTracker(target.req as Record<string, unknown>, context);
    } catch (error) {
      return this.identityFailed(target, error);
    }
    if (isThenable<string | Unlimited>(tracker)) {
      return Promise.resolve(tracker).then(
        (t) => this.charge(context, route, variant, target, t),
        (error) => this.identityFailed(target, error),
      );
    }
    return this.charge(context, route, variant, target, tracker);
  }

  private charge(
    context: ExecutionContext,
    route: Route,
    variant: Variant,
    target: Target,
    tracker: string | Unlimited,
  ): boolean | Promise<boolean> {
    if (tracker === UNLIMITED) return true;
    const key = this.generateKey(context, tracker, route.name);
    const events = this.config.events;
    const limiter = variant.limiter;
    const decide = (d: Decision) => this.decide(context, target, variant, d, tracker, key);
    if (!events.active) {
      if (limiter.canConsumeSync) return decide(limiter.consumeSync(key));
      return limiter.consume(key).then(decide);
    }
    // The limiter is silent (its key is generateKey's): the guard reports under the tracker.
    const start = events.timing ? performance.now() : 0;
    const report = (d: Decision): Decision => {
      const ms = events.timing ? performance.now() - start : undefined;
      emitDecision(events, this.identityContext.now(), route.rule, tracker, 1, d, false, ms);
      return d;
    };
    if (limiter.canConsumeSync) return decide(report(limiter.consumeSync(key)));
    return limiter.consume(key).then((d) => decide(report(d)));
  }

  private decide(
    context: ExecutionContext,
    target: Target,
    variant: Variant,
    d: Decision,
    tracker: string,
    key: string,
  ): boolean {
    const render = variant.render;
    // For @RateLimit() and for filters: throttlekit/http's RateLimitInfo, where Express and
    // Fastify adapters put it (req.rateLimit, request.rateLimit).
    (target.req as { rateLimit?: RateLimitInfo | undefined }).rateLimit = rateLimitInfo(
      {
        action: "continue",
        reason: d.reason,
        headers: undefined,
        decision: d,
        key: tracker,
        after: undefined,
        holds: false,
      },
      this.identityContext.now,
    );
    if (d.allowed) {
      if (render !== undefined && target.res !== undefined) {
        writeHeaders(target.res, render(d));
      }
      return true;
    }
    const retryAfter = retryAfterSeconds(d);
    const headers: HeaderMap = render === undefined ? {} : render(d);
    if (retryAfter !== undefined) headers["Retry-After"] = String(retryAfter);
    // A store outage's refusal is a 503 temporary-reduced-capacity (issue 13, item 4).
    const problem = withMessage(
      rejectedProblem(d, retryAfter, headers),
      this.config.errorMessage,
      context,
      d,
      tracker,
      key,
      retryAfter,
    );
    if (target.kind === "graphql") {
      // The HTTP status stays 200 (GraphQL over HTTP); the headers still tell clients when.
      writeHeaders(target.res, headers);
      throw new TooManyRequestsError(detailOf(problem), d, retryAfter);
    }
    if (target.kind === "ws") {
      sendWs(target.req, {
        status: "error",
        code: "TOO_MANY_REQUESTS",
        message: detailOf(problem),
        ...(retryAfter === undefined ? {} : { retryAfter }),
      });
      return false;
    }
    // Content-Type is left to the exception filter: Nest's Express adapter replaces any
    // non-JSON type on an error body (ThrottlekitExceptionFilter sends problem+json).
    headers["Cache-Control"] = "no-store";
    writeHeaders(target.res, headers);
    throw new ThrottlekitException(JSON.parse(problem.body!) as ProblemDetails, d, retryAfter);
  }

  /** An identity that throws an IdentityError is a 401 (HTTP), never a 500. */
  private identityFailed(target: Target, error: unknown): boolean {
    if (!isThrottlekitError(error) || error.code !== "ERR_TK_IDENTITY") throw error;
    const problem = unauthorizedProblem(error);
    if (target.kind === "graphql") {
      throw Object.assign(new Error(detailOf(problem)), {
        extensions: { code: "UNAUTHENTICATED" },
      });
    }
    if (target.kind === "ws") {
      sendWs(target.req, { status: "error", code: "UNAUTHENTICATED", message: detailOf(problem) });
      return false;
    }
    const { "Content-Type": _type, ...headers } = problem.headers;
    writeHeaders(target.res, headers);
    throw new HttpException(JSON.parse(problem.body!) as ProblemDetails, problem.status);
  }

  private route(cls: object, handler: object): Route | null {
    let handlers = this.routes.get(cls);
    if (handlers === undefined) {
      handlers = new WeakMap();
      this.routes.set(cls, handlers);
    }
    let route = handlers.get(handler);
    if (route === undefined) {
      route = this.build(cls, handler);
      handlers.set(handler, route);
    }
    return route;
  }

  /** Resolves a handler's throttlers: module, then class, then method; minus skipped ones. */
  private build(cls: object, handler: object): Route | null {
    const classSkip = read<SkipThrottleMetadata>(SKIP_THROTTLE_METADATA, cls);
    const handlerSkip = read<SkipThrottleMetadata>(SKIP_THROTTLE_METADATA, handler);
    const skipAll =
      typeof handlerSkip === "boolean"
        ? handlerSkip
        : typeof classSkip === "boolean"
          ? classSkip
          : false;
    // A skipped class whose method says { name: false } keeps only those throttlers
    // (@nestjs/throttler's `@SkipThrottle({ default: false })`).
    const keepOnly =
      classSkip === true && typeof handlerSkip === "object"
        ? Object.keys(handlerSkip).filter((n) => handlerSkip[n] === false)
        : undefined;
    if (keepOnly === undefined ? skipAll : keepOnly.length === 0) return null;
    const skipNamed: Record<string, boolean> = {
      ...(typeof classSkip === "object" && handlerSkip !== false ? classSkip : {}),
      ...(typeof handlerSkip === "object" ? handlerSkip : {}),
    };
    let set = new Map<string, NamedPolicy>();
    for (const p of this.config.throttlers) set.set(p.name, p);
    for (const meta of [
      read<ThrottleMetadata>(THROTTLE_METADATA, cls),
      read<ThrottleMetadata>(THROTTLE_METADATA, handler),
    ]) {
      if (meta === undefined) continue;
      if (meta.replace) set = new Map();
      for (const p of meta.policies) set.set(p.name, p);
    }
    for (const name in skipNamed) if (skipNamed[name] === true) set.delete(name);
    if (keepOnly !== undefined) {
      for (const name of [...set.keys()]) if (!keepOnly.includes(name)) set.delete(name);
    }
    if (set.size === 0) return null;
    const policies = [...set.values()];
    const dynamic: number[] = [];
    policies.forEach((p, i) => {
      if (p.dynamic !== undefined) dynamic.push(i);
    });
    return {
      ...this.variant(policies),
      policies,
      dynamic,
      variants: new BoundedMemo(256),
      name: [...set.keys()].join("+"),
      rule: ruleOf(cls, handler),
    };
  }

  private variant(named: readonly NamedPolicy[]): Variant {
    const { store, prefix, clock, headers } = this.config;
    const limiter = createLimiter({
      policies: named.map(({ dynamic: _, ...p }) => p),
      store,
      prefix,
      events: SILENT_EVENTS,
      ...(clock === undefined ? {} : { clock }),
    });
    return {
      limiter,
      render:
        headers === "throttler"
          ? throttlerHeaders
          : headerRenderer(headers, limiter.policies, this.identityContext.now),
    };
  }
}

Injectable()(ThrottlekitGuard);
Inject(THROTTLEKIT_CONFIG)(ThrottlekitGuard, undefined, 0);

/**
 * `nest:<Controller>.<handler>`: bounded (one per handler), in the characters a metrics label
 * takes (anything else becomes "_"), at most 64 characters.
 */
function ruleOf(cls: object, handler: object): string {
  const name = (f: object) => (f as { name?: unknown }).name;
  const c = name(cls);
  const h = name(handler);
  const raw = `nest:${typeof c === "string" ? c : "?"}.${typeof h === "string" ? h : "?"}`;
  return raw.replace(/[^\w.:-]/g, "_").slice(0, 64);
}

function read<T>(key: string, target: object): T | undefined {
  return reflector.get<T | undefined>(key, target as never);
}

function trackerOf(result: IdentityResult): string | Unlimited {
  if (typeof result === "string" || result === UNLIMITED) return result;
  if (typeof result === "object" && result !== null && typeof result.key === "string") {
    return result.key;
  }
  throw new ConfigError([
    {
      option: "identity",
      received: result,
      expected: "a key string, { key, group? } or UNLIMITED",
    },
  ]);
}

/**
 * @nestjs/throttler's headers: per throttler `X-RateLimit-Limit`, `-Remaining`, `-Reset`
 * (seconds until its window ends), suffixed `-<name>` unless the throttler is "default"; on a
 * refusal `Retry-After-<name>` for each refusing named throttler (Retry-After itself is the
 * guard's, as for every style).
 */
function throttlerHeaders(d: Decision): HeaderMap {
  const out: HeaderMap = {};
  for (const p of d.policies) {
    const name = p.policy.name;
    const suffix = name === "default" ? "" : `-${name}`;
    out[`X-RateLimit-Limit${suffix}`] = String(p.limit);
    out[`X-RateLimit-Remaining${suffix}`] = String(p.remaining);
    out[`X-RateLimit-Reset${suffix}`] = String(ceilSeconds(p.resetMs));
    if (!p.allowed && suffix !== "") {
      out[`Retry-After${suffix}`] = String(ceilSeconds(p.retryAfterMs));
    }
  }
  return out;
}

/** Replaces the problem's detail with the errorMessage option's text. */
function withMessage(
  problem: PlainResponse,
  message: ErrorMessage | undefined,
  context: ExecutionContext,
  d: Decision,
  tracker: string,
  key: string,
  retryAfter: number | undefined,
): PlainResponse {
  if (message === undefined || d.reason === "degraded") return problem;
  const detail =
    typeof message === "string"
      ? message
      : message(context, {
          limit: d.limit,
          ttl: d.policy.windowMs,
          name: d.policy.name,
          tracker,
          key,
          timeToBlockExpire: retryAfter ?? 0,
          totalHits: d.limit - d.remaining + (d.allowed ? 0 : 1),
          isBlocked: !d.allowed,
        });
  const body = { ...(JSON.parse(problem.body!) as ProblemDetails), detail };
  return { ...problem, body: JSON.stringify(body) };
}

function detailOf(problem: PlainResponse): string {
  return (JSON.parse(problem.body!) as ProblemDetails).detail ?? "Too many requests.";
}

/**
 * Tells a WebSocket client, in Nest's own exception shape ({ status: "error", message }): a
 * `ws` socket gets a `{ event: "exception", data }` frame; a Socket.IO socket an `exception`
 * event. Nest's WsException for the refused handler follows; it is local-only on `ws`.
 */
function sendWs(client: object, data: Record<string, unknown>): void {
  const c = client as {
    readyState?: number;
    send?: (text: string) => void;
    emit?: (event: string, data: unknown) => void;
    handshake?: unknown;
  };
  if (c.handshake !== undefined && typeof c.emit === "function") {
    c.emit("exception", data);
  } else if (typeof c.send === "function" && c.readyState === 1) {
    c.send(JSON.stringify({ event: "exception", data }));
  }
}
