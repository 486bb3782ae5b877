import type { Context, MiddlewareHandler, Next } from "hono";
import {
  createHttpLimiter,
  type HttpLimiter,
  type HttpLimiterOptions,
  type HttpOutcome,
  type HttpRequest,
  holdUntilSent,
  isThenable,
  pathOf,
  type RateLimitInfo,
  rateLimitInfo,
  runtimeAddress,
  withHeaders,
  withProblems,
} from "../http/index.js";
import type { ConfigProblem } from "../index.js";

/** The decision as handlers see it (the shape is throttlekit/http's). */
export type { RateLimitInfo };

/**
 * The variables the middleware sets, for a typed `c.get("rateLimit")`:
 * `new Hono<{ Variables: RateLimitVariables }>()`. `rateLimit` is undefined when no rule decided
 * the request (skipped, exempt, unmatched, allow list).
 */
export type RateLimitVariables = { rateLimit: RateLimitInfo | undefined };

/** The raw object callbacks see on `req.raw`: Hono's Context. */
export type HonoRaw = { readonly context: Context };

/** The HTTP layer's options plus `remoteAddress`. */
export type HonoRateLimitOptions = HttpLimiterOptions<HonoRaw> & {
  /**
   * The peer's address. By default it is read from `c.env` where runtimes put it:
   * @hono/node-server's `env.incoming.socket`, Bun's `server.requestIP(req)`, Deno's
   * `info.remoteAddr`. Elsewhere say where it is, e.g. on Cloudflare Workers
   * `(c) => c.req.header("cf-connecting-ip")` (Cloudflare's edge sets that header itself).
   * @default the runtime's own, when it has one
   */
  remoteAddress?: (c: Context) => string | undefined;
};

/** Hono middleware, with the limiter it drives. */
export interface HonoRateLimit extends MiddlewareHandler<{ Variables: RateLimitVariables }> {
  /** The underlying HTTP limiter (lists, clientAddress, close). */
  readonly limiter: HttpLimiter<HonoRaw>;
}

class HonoRequest implements HttpRequest<HonoRaw> {
  readonly method: string;
  readonly path: string;
  readonly raw: HonoRaw;

  constructor(
    c: Context,
    readonly remoteAddress: string | undefined,
  ) {
    const request = c.req.raw;
    this.method = request.method;
    // The URL's path in canonical percent-encoding: the form Hono routes on once it has
    // decoded c.req.path (issue 13, item 6).
    this.path = pathOf(request.url);
    this.raw = { context: c };
  }

  /**
   * The path this middleware was registered with (`c.req.routePath`): the route's template when
   * it runs as route middleware (`app.get("/items/:id", limit, handler)`). As app.use middleware
   * that is its own wildcard ("/*", "/api/*"), not the route that will answer (Hono cannot tell
   * which of the matched handlers will), so a path with a wildcard is no route.
   */
  get route(): string | undefined {
    const path = this.raw.context.req.routePath;
    return path.includes("*") ? undefined : path;
  }

  header(name: string): string | undefined {
    return this.raw.context.req.raw.headers.get(name) ?? undefined;
  }
}

/**
 * Rate limiting middleware for Hono, on any runtime Hono runs on.
 *
 * @example
 * import { Hono } from "hono";
 * import { serve } from "@hono/node-server";
 * import { honoRateLimit } from "throttlekit/hono";
 *
 * const app = new Hono();
 * app.use(honoRateLimit({ policies: "100/min", rules: [{ path: "/login", policies: "5/min" }] }));
 * app.get("/", (c) => c.text("hello"));
 * serve({ fetch: app.fetch, port: 3000 });
 */
export function honoRateLimit(options: HonoRateLimitOptions): HonoRateLimit {
  const { remoteAddress = envAddress, ...httpOptions } = options;
  const extra: ConfigProblem[] = [];
  if (typeof remoteAddress !== "function") {
    extra.push({
      option: "remoteAddress",
      received: remoteAddress,
      expected: "a function (c) => string | undefined",
    });
  }
  const limiter = withProblems(extra, () => createHttpLimiter<HonoRaw>(httpOptions));
  const now = httpOptions.clock ?? Date.now;

  const middleware = ((c: Context, next: Next) => {
    const out = limiter.handle(new HonoRequest(c, remoteAddress(c)));
    // The memory store answers synchronously: no extra await on the common path.
    if (!isThenable<HttpOutcome>(out)) return apply(out, c, next, now);
    return out.then((o) => apply(o, c, next, now));
  }) as HonoRateLimit;
  Object.defineProperty(middleware, "limiter", { value: limiter, enumerable: true });
  return middleware;
}

function apply(
  o: HttpOutcome,
  c: Context,
  next: Next,
  now: () => number,
): Promise<Response | undefined> {
  if (o.decision !== undefined) c.set("rateLimit", rateLimitInfo(o, now));
  if (o.action === "respond") {
    return Promise.resolve(new Response(o.body ?? null, { status: o.status, headers: o.headers }));
  }
  const { headers, after } = o;
  if (headers === undefined && after === undefined) return next() as Promise<undefined>;
  // Watched from before the handler runs: a client that leaves meanwhile frees its slot.
  const held = after !== undefined && o.holds ? holdUntilSent(after, c.req.raw, c.env) : undefined;
  return next().then(
    () => {
      // Set on the final response, not with c.header() before next(): a handler that returns
      // its own Response would drop headers prepared on the context.
      let res = headers === undefined ? c.res : withHeaders(c.res, headers);
      if (held !== undefined) res = held.sent(res);
      else after?.(res.status);
      // Assigning c.res makes Hono copy the response again: only when it had to be copied.
      if (res !== c.res) c.res = res;
      return undefined;
    },
    (error: unknown) => {
      if (held !== undefined) held.failed();
      else after?.(500);
      throw error;
    },
  );
}

/** Where runtimes hand Hono the peer address: in `c.env` (see runtimeAddress). */
function envAddress(c: Context): string | undefined {
  return runtimeAddress(c.req.raw, c.env);
}
