import type { NextFunction, Request, Response } from "express";
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

declare global {
  // Express's own extension point for request fields (where passport's `req.user` lives).
  namespace Express {
    interface Request {
      /**
       * throttlekit: the decision on this request (limit, used, remaining, resetTime, key,
       * decision); undefined when no rule decided it (skipped, exempt, unmatched, allow list).
       */
      rateLimit?: RateLimitInfo | undefined;
    }
  }
}

/** The raw objects callbacks (`identity`, `skip`, `cost`, `session`...) see on `req.raw`. */
export type ExpressRaw = { readonly req: Request; readonly res: Response };

/** The HTTP layer's options: see docs/http.md. */
export type ExpressRateLimitOptions = HttpLimiterOptions<ExpressRaw>;

/** Express middleware (app-wide or per route) plus the limiter behind it. */
export interface ExpressRateLimit {
  /**
   * Sets the rate-limit headers and calls `next()` when the request may proceed, else answers
   * it (429, 403, 401). A limiter fault (a store down) goes to `next(error)`.
   */
  (req: Request, res: Response, next: NextFunction): void;
  /** The underlying HTTP limiter (lists, clientAddress, close). */
  readonly limiter: HttpLimiter<ExpressRaw>;
}

/**
 * The canonical request over Express's req: headers are read in place, and `raw` is built only
 * when a callback asks for it (most requests never do).
 */
class ExpressRequest implements HttpRequest<ExpressRaw> {
  readonly method: string;
  readonly remoteAddress: string | undefined;
  private rawObjects: ExpressRaw | undefined;

  constructor(
    private readonly req: Request,
    private readonly res: Response,
  ) {
    this.method = req.method;
    // The socket's peer, never req.ip: Express's own "trust proxy" setting is not ours to read
    // (throttlekit's trustProxy option decides which forwarding headers count).
    this.remoteAddress = req.socket.remoteAddress;
  }

  /**
   * Read only when a rule has paths (the engine reads it once). originalUrl, not url: inside a
   * mounted router `url` is relative to the mount point, and rules are written against the path
   * the client sent. Express routes on the path of the target (parseurl: absolute-form and
   * #fragment included) without decoding it (issue 13, item 6).
   */
  get path(): string {
    return routingPath(this.req.originalUrl || this.req.url);
  }

  /**
   * The matched route's template, for `scope: "route"`: Express sets `req.route` once a route
   * matched, so it is there when this middleware runs on a route (`app.get("/items/:id", limit,
   * handler)`) and undefined for app.use middleware, which runs before any route matched. The
   * template is relative to its router's mount point; `req.baseUrl` is not put in front, as it
   * holds the concrete values of a mount path's parameters (one counter per value).
   */
  get route(): string | undefined {
    const path = (this.req.route as { path?: unknown } | undefined)?.path;
    return typeof path === "string" ? path : undefined;
  }

  /** Express matches regardless of case unless the app enables "case sensitive routing". */
  get caseInsensitive(): boolean {
    return this.req.app?.settings["case sensitive routing"] !== true;
  }

  get raw(): ExpressRaw {
    this.rawObjects ??= { req: this.req, res: this.res };
    return this.rawObjects;
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return typeof v === "string" ? v : Array.isArray(v) ? v.join(", ") : undefined;
  }
}

/**
 * Rate limiting for Express 5 (and 4): one middleware, app-wide or per route. Options are those
 * of the HTTP layer (docs/http.md).
 *
 * @example
 * import express from "express";
 * import { expressRateLimit } from "throttlekit/express";
 *
 * const app = express();
 * app.use(expressRateLimit({ policies: "100/min", trustProxy: 1 }));
 * app.post("/login", expressRateLimit({ rules: [{ policies: "5/min", blockFor: "15m" }] }), login);
 */
export function expressRateLimit(options: ExpressRateLimitOptions): ExpressRateLimit {
  const limiter = createHttpLimiter<ExpressRaw>(options);
  const now = options.clock ?? Date.now;
  // Express's "trust proxy" lives on the app, known at the first request (issue 13, item 12).
  let checked = false;
  // Express 4 does not catch a rejected promise returned by middleware, so the handler returns
  // void and routes faults to next(error) itself (Express 5 would do either).
  const middleware = ((req: Request, res: Response, next: NextFunction): void => {
    if (!checked) {
      checked = true;
      const mismatch = trustProxyMismatch(
        `Express's "trust proxy"`,
        req.app?.get("trust proxy"),
        options.trustProxy,
      );
      if (mismatch !== undefined)
        warnOnce(limiter.logger, "WARN_TK_TRUST_PROXY_MISMATCH", mismatch);
    }
    const out = limiter.handle(new ExpressRequest(req, res));
    if (!isThenable<HttpOutcome>(out)) {
      apply(out, req, res, next, now);
      return;
    }
    out
      .then((o) => apply(o, req, res, next, now))
      .then(undefined, (error: unknown) => next(error ?? FAILED));
  }) as ExpressRateLimit;
  Object.defineProperty(middleware, "limiter", { value: limiter, enumerable: true });
  return middleware;
}

/** next(undefined) would let the request through: a fault without a value still is one. */
const FAILED = new Error("throttlekit: the rate limiter failed without an error value");

function apply(
  o: HttpOutcome,
  req: Request,
  res: Response,
  next: NextFunction,
  now: () => number,
): void {
  // Only when a rule decided: a later middleware that decided nothing leaves an earlier one's.
  if (o.decision !== undefined) req.rateLimit = rateLimitInfo(o, now);
  if (o.action === "continue") {
    const { headers, after } = o;
    if (headers !== undefined) for (const name in headers) res.setHeader(name, headers[name]!);
    if (after !== undefined) afterNodeResponse(res, after);
    next();
    return;
  }
  // writeHead/end, not res.send: the limiter's response goes out as produced (no ETag, no
  // Content-Type guessed for a custom string body).
  res.writeHead(o.status, o.headers);
  res.end(o.body);
}
