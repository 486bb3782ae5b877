import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import {
  afterNodeResponse,
  createHttpLimiter,
  type HttpLimiter,
  type HttpLimiterOptions,
  type HttpOutcome,
  type HttpRequest,
  isThenable,
  type RateLimitInfo,
  type RoutingPathOptions,
  rateLimitInfo,
  routingPath,
  withProblems,
} from "../http/index.js";
import type { ConfigProblem } from "../index.js";

/** The decision as handlers see it (the shape is throttlekit/http's). */
export type { RateLimitInfo };

/**
 * The request as handlers after the limiter see it: `rateLimit` holds the decision (connect-style
 * middleware's convention, express-rate-limit's field); undefined when no rule decided the
 * request (skipped, exempt, unmatched, allow list).
 */
export type RateLimitedRequest = IncomingMessage & { rateLimit?: RateLimitInfo | undefined };

/** The raw objects node:http callbacks see on `req.raw`. */
export type NodeRaw = { readonly req: IncomingMessage; readonly res: ServerResponse };

/** The HTTP layer's options plus `onError`. */
export type NodeRateLimitOptions = HttpLimiterOptions<NodeRaw> & {
  /**
   * Called when the limiter fails (a store down) and no `next` was given: answer the request
   * yourself. Errors are passed to `next` when there is one.
   * @default a bare 500 and the error on console.error
   */
  onError?: (error: unknown, req: IncomingMessage, res: ServerResponse) => void;
};

/** Connect-style middleware plus a wrapper for plain request listeners. */
export interface NodeRateLimit {
  /** Middleware: calls `next()` when the request may proceed, else answers it. */
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /**
   * Wraps a request listener: it runs only for requests that may proceed, and reads the decision
   * on `req.rateLimit`.
   */
  wrap(listener: (req: RateLimitedRequest, res: ServerResponse) => void): RequestListener;
  /** The underlying HTTP limiter (lists, clientAddress, close). */
  readonly limiter: HttpLimiter<NodeRaw>;
}

/**
 * node:http has no router: handlers usually route on `new URL(req.url, base).pathname`, which
 * resolves `.` and `..` segments, so rules see the path that way too (issue 13, item 6).
 */
const NODE_PATHS: RoutingPathOptions = Object.freeze({ dotSegments: true });

/** The canonical request over node's IncomingMessage: headers are read in place, not copied. */
class NodeRequest implements HttpRequest<NodeRaw> {
  readonly method: string;
  readonly remoteAddress: string | undefined;
  readonly raw: NodeRaw;

  constructor(req: IncomingMessage, res: ServerResponse) {
    this.method = req.method ?? "GET";
    this.remoteAddress = req.socket.remoteAddress;
    this.raw = { req, res };
  }

  /** Read only when a rule has paths (the engine reads it once). */
  get path(): string {
    return routingPath(this.raw.req.url ?? "/", NODE_PATHS);
  }

  header(name: string): string | undefined {
    const v = this.raw.req.headers[name];
    return typeof v === "string" ? v : Array.isArray(v) ? v.join(", ") : undefined;
  }
}

/**
 * Rate limiting for plain node:http servers (and any framework that takes connect-style
 * `(req, res, next)` middleware).
 *
 * @example
 * import { createServer } from "node:http";
 * import { nodeRateLimit } from "throttlekit/node";
 *
 * const limit = nodeRateLimit({ policies: "100/min", trustProxy: 1 });
 * createServer(limit.wrap((req, res) => res.end("hello"))).listen(3000);
 */
export function nodeRateLimit(options: NodeRateLimitOptions): NodeRateLimit {
  const { onError, ...httpOptions } = options;
  const extra: ConfigProblem[] = [];
  if (onError !== undefined && typeof onError !== "function") {
    extra.push({
      option: "onError",
      received: onError,
      expected: "a function (error, req, res) => void",
    });
  }
  const limiter = withProblems(extra, () => createHttpLimiter<NodeRaw>(httpOptions));
  const now = httpOptions.clock ?? Date.now;
  const fail =
    onError ??
    ((error: unknown, _req: IncomingMessage, res: ServerResponse) => {
      console.error(error);
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
      res.end("Internal Server Error");
    });

  const run = (
    req: IncomingMessage,
    res: ServerResponse,
    proceed: () => void,
    failed: (e: unknown) => void,
  ): void => {
    const out = limiter.handle(new NodeRequest(req, res));
    if (!isThenable<HttpOutcome>(out)) {
      apply(out, req, res, proceed, now);
      return;
    }
    out.then((o) => {
      // Downstream code runs inside this callback now: its throw must not become an
      // unhandled rejection.
      try {
        apply(o, req, res, proceed, now);
      } catch (error) {
        failed(error);
      }
    }, failed);
  };

  const middleware = ((
    req: IncomingMessage,
    res: ServerResponse,
    next?: (error?: unknown) => void,
  ): void => {
    run(
      req,
      res,
      () => next?.(),
      (e) => (next !== undefined ? next(e) : fail(e, req, res)),
    );
  }) as NodeRateLimit;
  middleware.wrap = (listener) => (req, res) => {
    run(
      req,
      res,
      () => listener(req, res),
      (e) => fail(e, req, res),
    );
  };
  Object.defineProperty(middleware, "limiter", { value: limiter, enumerable: true });
  return middleware;
}

function apply(
  o: HttpOutcome,
  req: RateLimitedRequest,
  res: ServerResponse,
  proceed: () => void,
  now: () => number,
): void {
  if (o.decision !== undefined) req.rateLimit = rateLimitInfo(o, now);
  if (o.action === "continue") {
    const { headers, after } = o;
    if (headers !== undefined) for (const name in headers) res.setHeader(name, headers[name]!);
    if (after !== undefined) afterNodeResponse(res, after);
    proceed();
    return;
  }
  res.writeHead(o.status, o.headers);
  res.end(o.body);
}
