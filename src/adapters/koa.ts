import type { Context, Next } from "koa";
import {
  afterNodeResponse,
  createHttpLimiter,
  type HttpLimiter,
  type HttpLimiterOptions,
  type HttpOutcome,
  type HttpRequest,
  isThenable,
  type RateLimitInfo,
  rateLimitInfo,
  routingPath,
  trustProxyMismatch,
} from "../http/index.js";
import { warnOnce } from "../index.js";

/** The decision as handlers see it (the shape is throttlekit/http's). */
export type { RateLimitInfo };

declare module "koa" {
  interface DefaultState {
    /**
     * throttlekit: the decision on this request (limit, used, remaining, resetTime, key,
     * decision); undefined when no rule decided it (skipped, exempt, unmatched, allow list).
     */
    rateLimit?: RateLimitInfo | undefined;
  }
}

/** The raw object callbacks (`identity`, `skip`, `cost`, `session`...) see on `req.raw`. */
export type KoaRaw = { readonly ctx: Context };

/** The HTTP layer's options: see docs/http.md. */
export type KoaRateLimitOptions = HttpLimiterOptions<KoaRaw>;

/** Koa middleware (app-wide or per route) plus the limiter behind it. */
export interface KoaRateLimit {
  /**
   * Sets the rate-limit headers and runs `next()` when the request may proceed, else answers it
   * (429, 403, 401) without running `next`. A limiter fault (a store down) rejects: Koa's error
   * handling sees it. Returns synchronously when the limiter decided synchronously.
   */
  (ctx: Context, next: Next): Promise<unknown> | undefined;
  /** The underlying HTTP limiter (lists, clientAddress, close). */
  readonly limiter: HttpLimiter<KoaRaw>;
}

/**
 * The canonical request over Koa's ctx: headers are read from node's request in place, and `raw`
 * is built only when a callback asks for it.
 */
class KoaRequest implements HttpRequest<KoaRaw> {
  readonly method: string;
  readonly remoteAddress: string | undefined;
  private rawObjects: KoaRaw | undefined;

  constructor(private readonly ctx: Context) {
    this.method = ctx.method;
    // The socket's peer, never ctx.ip: Koa's `app.proxy` setting is not ours to read
    // (throttlekit's trustProxy option decides which forwarding headers count).
    this.remoteAddress = ctx.req.socket.remoteAddress;
  }

  /**
   * Read only when a rule has paths (the engine reads it once). originalUrl, not ctx.path: a
   * mounted sub-app (koa-mount) sees a path relative to its mount point, and rules are written
   * against the path the client sent.
   */
  get path(): string {
    return routingPath(this.ctx.originalUrl || this.ctx.url);
  }

  /**
   * Koa has no router of its own; @koa/router, the usual one, matches regardless of case unless
   * built with `sensitive: true`, so rules do too (issue 13, item 6): a rule must not be escaped
   * by `/LOGIN` reaching the `/login` route.
   */
  get caseInsensitive(): boolean {
    return true;
  }

  /**
   * The template @koa/router (and koa-router) sets in `ctx._matchedRoute` before a matched
   * route's middleware runs: there when this middleware is on a route (`router.get("/items/:id",
   * limit, handler)`), prefix included. Undefined before the router ran (app.use) and for a
   * RegExp route. A `router.use` layer's own pattern is no route: `(?:\/|$)`, or under a prefix
   * `/api(?:\/|$)` (a regular expression, not a template).
   */
  get route(): string | undefined {
    const route = (this.ctx as { _matchedRoute?: unknown })._matchedRoute;
    return typeof route === "string" && route.startsWith("/") && !route.includes("(?:")
      ? route
      : undefined;
  }

  get raw(): KoaRaw {
    this.rawObjects ??= { ctx: this.ctx };
    return this.rawObjects;
  }

  header(name: string): string | undefined {
    const v = this.ctx.req.headers[name];
    return typeof v === "string" ? v : Array.isArray(v) ? v.join(", ") : undefined;
  }
}

/**
 * Rate limiting for Koa: one middleware, app-wide or per route (@koa/router). Options are those
 * of the HTTP layer (docs/http.md).
 *
 * @example
 * import Koa from "koa";
 * import { koaRateLimit } from "throttlekit/koa";
 *
 * const app = new Koa();
 * app.use(koaRateLimit({ policies: "100/min", trustProxy: 1 }));
 * app.use((ctx) => { ctx.body = "hello"; });
 */
export function koaRateLimit(options: KoaRateLimitOptions): KoaRateLimit {
  const limiter = createHttpLimiter<KoaRaw>(options);
  const now = options.clock ?? Date.now;
  // Koa's app.proxy lives on the app, known at the first request (issue 13, item 12).
  let checked = false;
  // Not an async function: with the memory store the decision is synchronous, and Koa's
  // compose wraps whatever we return in Promise.resolve anyway.
  const middleware = ((ctx: Context, next: Next): Promise<unknown> | undefined => {
    if (!checked) {
      checked = true;
      const app = ctx.app;
      // app.proxy with maxIpsCount n trusts n hops; with 0 (Koa's default), every hop.
      const theirs = app.proxy ? (app.maxIpsCount > 0 ? app.maxIpsCount : true) : false;
      const mismatch = trustProxyMismatch("Koa's app.proxy", theirs, options.trustProxy);
      if (mismatch !== undefined)
        warnOnce(limiter.logger, "WARN_TK_TRUST_PROXY_MISMATCH", mismatch);
    }
    const out = limiter.handle(new KoaRequest(ctx));
    if (!isThenable<HttpOutcome>(out)) return apply(out, ctx, next, now);
    return out.then((o) => apply(o, ctx, next, now));
  }) as KoaRateLimit;
  Object.defineProperty(middleware, "limiter", { value: limiter, enumerable: true });
  return middleware;
}

function apply(
  o: HttpOutcome,
  ctx: Context,
  next: Next,
  now: () => number,
): Promise<unknown> | undefined {
  // Set on refusals too: upstream middleware (a logger) reads it on the way out. Only when a
  // rule decided: a later middleware that decided nothing leaves an earlier one's.
  if (o.decision !== undefined) ctx.state.rateLimit = rateLimitInfo(o, now);
  if (o.action === "continue") {
    const { headers, after } = o;
    if (headers !== undefined) for (const name in headers) ctx.set(name, headers[name]!);
    // On the response's end, not the status after next(): errors thrown downstream become a
    // status only when Koa's onerror writes the response.
    if (after !== undefined) afterNodeResponse(ctx.res, after);
    return next();
  }
  if (o.body === undefined) {
    // Koa turns a missing body into a status-message body, and a null one into a 204; set null
    // first (it marks the body as explicitly empty), then the status.
    ctx.body = null;
    ctx.status = o.status;
    ctx.set(o.headers);
  } else {
    ctx.status = o.status;
    ctx.set(o.headers); // before the body, so Koa keeps our Content-Type
    ctx.body = o.body;
  }
  return undefined;
}
