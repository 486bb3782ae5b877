import { type CanActivate, type ExecutionContext, Inject, Injectable } from "@nestjs/common";
import {
  afterNodeResponse,
  ceilSeconds,
  type HeaderMap,
  type HttpOutcome,
  type IdentityContext,
  type IdentityResult,
  isThenable,
  type MaybePromise,
  type PlainResponse,
  type ProblemDetails,
  type RateLimitInfo,
  type RespondOutcome,
  rateLimitInfo,
  UNLIMITED,
  type Unlimited,
} from "../../http/index.js";
import { ConfigError, type Decision } from "../../index.js";
import { NestRequest, type Target, targetOf, writeHeaders } from "./nest-request.js";
import type { ErrorMessage, ThrottlekitConfig } from "./options.js";
import type { Route } from "./route-limiters.js";
import { ThrottlekitException } from "./throttlekit-exception.js";
import { THROTTLEKIT_CONFIG } from "./tokens.js";
import { TooManyRequestsError } from "./too-many-requests-error.js";

/**
 * Rate limits Nest handlers. Use it globally (`{ provide: APP_GUARD, useClass: ThrottlekitGuard }`)
 * or per controller/handler with `@UseGuards(ThrottlekitGuard)`, with ThrottlekitModule imported.
 *
 * Each handler's throttlers are one rule of throttlekit/http's engine, the one every HTTP adapter
 * runs: the allow and deny lists, the identity (and its failure budget), `cost`, concurrency,
 * shadow mode, abuse detection, load shedding, refunds by status, and `onLimited` / `onDenied` /
 * `onIdentityError` answers. The limiter is built once per handler (never per request). HTTP
 * routes get the rate-limit headers, and the engine's answer (a 429 problem with Retry-After; a
 * 503 when a store outage refused the request; 403 denied; 401 identity) thrown as a
 * ThrottlekitException; GraphQL resolvers an error with `extensions.code`; WebSocket handlers
 * an `exception` message and no handler call. Other contexts (microservices) are not limited.
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
  private readonly identityContext: IdentityContext;
  /** generateKey is overridden (option or subclass): handlers count in one shared namespace. */
  private readonly sharedKeys: boolean;

  constructor(protected readonly config: ThrottlekitConfig) {
    this.identityContext = { now: config.clock ?? Date.now };
    this.sharedKeys =
      config.generateKey !== undefined ||
      this.generateKey !== ThrottlekitGuard.prototype.generateKey;
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const route = this.config.routes.route(
      context.getClass(),
      context.getHandler(),
      this.sharedKeys,
      context.getType() === "http",
    );
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
   * UNLIMITED to leave a client alone; throw (an IdentityError) to answer 401.
   */
  protected getTracker(
    req: Record<string, unknown>,
    context: ExecutionContext,
  ): MaybePromise<string | Unlimited> {
    if (this.config.getTracker !== undefined) return this.config.getTracker(req, context);
    const result = this.config.identity(new NestRequest(req, context), this.identityContext);
    return isThenable<IdentityResult>(result)
      ? Promise.resolve(result).then(trackerOf)
      : trackerOf(result);
  }

  /**
   * The store key for one client on one handler. By default each handler counts apart (in its
   * own namespace of the store, keyed by the tracker); once overridden, every handler counts in
   * one namespace keyed by this answer, so returning the tracker alone shares one budget across
   * every handler with the same throttlers. `name` is the route's throttler names joined by "+".
   */
  protected generateKey(context: ExecutionContext, tracker: string, name: string): string {
    if (this.config.generateKey !== undefined) {
      return this.config.generateKey(context, tracker, name);
    }
    return `${context.getClass().name}.${context.getHandler().name}:${tracker}`;
  }

  private limit(context: ExecutionContext, route: Route): boolean | Promise<boolean> {
    const target = targetOf(context);
    if (target === undefined) return true;
    const req: NestRequest = new NestRequest(target.req, context, () =>
      this.identify(req, context, route),
    );
    const out = route.limiter.handle(req);
    if (isThenable<HttpOutcome>(out))
      return Promise.resolve(out).then((o) => this.answer(o, req, target));
    return this.answer(out, req, target);
  }

  /** The engine's identity for this request: the tracker, or generateKey's answer over it. */
  private identify(
    req: NestRequest,
    context: ExecutionContext,
    route: Route,
  ): MaybePromise<IdentityResult> {
    const tracker = this.getTracker(req.raw as Record<string, unknown>, context);
    const keyed = (t: string | Unlimited): IdentityResult => {
      if (t === UNLIMITED) return t;
      req.tracker = t;
      return this.sharedKeys ? this.generateKey(context, t, route.throttlers) : t;
    };
    return isThenable<string | Unlimited>(tracker)
      ? Promise.resolve(tracker).then(keyed)
      : keyed(tracker);
  }

  /** Applies the engine's outcome the way this kind of handler answers. */
  private answer(o: HttpOutcome, req: NestRequest, target: Target): boolean {
    const now = this.identityContext.now;
    // For @RateLimit() and for filters: throttlekit/http's RateLimitInfo, where Express and
    // Fastify adapters put it (req.rateLimit, request.rateLimit).
    if (o.decision !== undefined) {
      (target.req as { rateLimit?: RateLimitInfo | undefined }).rateLimit = rateLimitInfo(o, now);
    }
    const throttler = this.config.headers === "throttler" && !this.config.shadow;
    if (o.action === "continue") {
      const headers =
        throttler && o.decision !== undefined ? throttlerHeaders(o.decision) : o.headers;
      if (headers !== undefined) writeHeaders(target.res, headers);
      if (o.after !== undefined) settle(target, o.after);
      return true;
    }
    const headers: HeaderMap = { ...o.headers };
    if (throttler && o.decision !== undefined) Object.assign(headers, throttlerHeaders(o.decision));
    const retryAfter = retryAfterOf(headers);
    const answer = withMessage({ ...o, headers }, this.config.errorMessage, req, retryAfter);
    const { "Content-Type": _type, ...rest } = headers;
    if (target.kind === "graphql") {
      // The HTTP status stays 200 (GraphQL over HTTP); the headers still tell clients when.
      const { "Cache-Control": _cc, ...rate } = rest;
      writeHeaders(target.res, rate);
      throw graphqlError(answer, o.decision, retryAfter);
    }
    if (target.kind === "ws") {
      sendWs(target.req, {
        status: "error",
        code: codeOf(answer.status),
        message: messageOf(answer),
        ...(retryAfter === undefined ? {} : { retryAfter }),
      });
      return false;
    }
    // Content-Type is left to the exception filter: Nest's Express adapter replaces any
    // non-JSON type on an error body (ThrottlekitExceptionFilter sends the answer's own).
    writeHeaders(target.res, rest);
    throw new ThrottlekitException(answer, o.decision, retryAfter);
  }
}

Injectable()(ThrottlekitGuard);
Inject(THROTTLEKIT_CONFIG)(ThrottlekitGuard, undefined, 0);

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

/**
 * The errorMessage option as the detail of a rule's refusal with the default problem body (not
 * a store outage's 503, nor a callback's own answer).
 */
function withMessage(
  o: RespondOutcome,
  message: ErrorMessage | undefined,
  req: NestRequest,
  retryAfter: number | undefined,
): PlainResponse {
  const d = o.decision;
  if (message === undefined || d === undefined || d.allowed || d.reason === "degraded") return o;
  const problem = problemOf(o);
  if (problem === undefined) return o;
  const key = o.key ?? "";
  const detail =
    typeof message === "string"
      ? message
      : message(req.context, {
          limit: d.limit,
          ttl: d.policy.windowMs,
          name: d.policy.name,
          tracker: req.tracker ?? key,
          key,
          timeToBlockExpire: retryAfter ?? 0,
          totalHits: d.limit - d.remaining + 1,
          isBlocked: true,
        });
  return { ...o, body: JSON.stringify({ ...problem, detail }) };
}

/** The answer's problem details, when its body is one (throttlekit's own answers). */
function problemOf(answer: PlainResponse): ProblemDetails | undefined {
  if (!/problem\+json/.test(answer.headers["Content-Type"] ?? "")) return undefined;
  try {
    return JSON.parse(answer.body ?? "") as ProblemDetails;
  } catch {
    return undefined;
  }
}

/** What a client is told: the problem's detail (or title), or a callback's text body. */
function messageOf(answer: PlainResponse): string {
  const problem = problemOf(answer);
  if (problem !== undefined) return problem.detail ?? problem.title;
  return answer.body ?? "Too many requests.";
}

function retryAfterOf(headers: HeaderMap): number | undefined {
  const v = headers["Retry-After"];
  return v === undefined ? undefined : Number(v);
}

/** The error code GraphQL and WebSocket clients get for an answer's status. */
function codeOf(status: number): string {
  if (status === 401) return "UNAUTHENTICATED";
  if (status === 403) return "FORBIDDEN";
  if (status === 503) return "SERVICE_UNAVAILABLE";
  if (status === 429) return "TOO_MANY_REQUESTS";
  return "RATE_LIMIT_ERROR";
}

/**
 * A GraphQL resolver's error: TooManyRequestsError for a rule's refusal (429, or 503 when the
 * store was out), else an error whose `extensions.code` names the status.
 */
function graphqlError(
  answer: PlainResponse,
  d: Decision | undefined,
  retryAfter: number | undefined,
): Error {
  const message = messageOf(answer);
  if (d !== undefined && !d.allowed) return new TooManyRequestsError(message, d, retryAfter);
  return Object.assign(new Error(message), {
    extensions: {
      code: codeOf(answer.status),
      ...(retryAfter === undefined ? {} : { retryAfter }),
    },
  });
}

/**
 * Calls `after` (refunds by status, a concurrency slot, the detector) once the response ended: on
 * the Node response under Express or Fastify (reply.raw). A WebSocket message has no response,
 * and a GraphQL resolver shares its response with every other resolver of the query (holding a
 * slot to its end would make a query's resolvers refuse each other): both settle at once, with
 * 200, the status GraphQL answers with.
 */
function settle(target: Target, after: (status: number) => void): void {
  if (target.kind !== "http") {
    after(200);
    return;
  }
  const res = target.res as { raw?: unknown; once?: unknown } | undefined;
  const node = (typeof res?.once === "function" ? res : res?.raw) as
    | Parameters<typeof afterNodeResponse>[0]
    | undefined;
  if (node !== undefined && typeof (node as { once?: unknown }).once === "function") {
    afterNodeResponse(node, after);
  } else {
    after(200);
  }
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
