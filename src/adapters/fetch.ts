import {
  createHttpLimiter,
  type HttpLimiter,
  type HttpLimiterOptions,
  type HttpOutcome,
  type HttpRequest,
  holdUntilSent,
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

/** The raw objects callbacks see on `req.raw`: the Request and the handler's second argument. */
export type FetchRaw = { readonly request: Request; readonly context: unknown };

/** The HTTP layer's options plus `remoteAddress`. */
export type FetchRateLimitOptions = HttpLimiterOptions<FetchRaw> & {
  /**
   * The peer's address. Web Requests do not carry it; by default it is read from the handler's
   * second argument where runtimes put it: Bun's `server.requestIP(req)`, Deno's
   * `info.remoteAddr`, @hono/node-server's `env.incoming.socket`. Elsewhere (Next.js, Workers)
   * say where it is, e.g. `(req) => req.headers.get("cf-connecting-ip") ?? undefined` on
   * Cloudflare, whose edge sets that header itself.
   * @default the runtime's own, when it has one
   */
  remoteAddress?: (request: Request, context: unknown) => string | undefined;
};

/**
 * What `check` answers: a response to send now, or headers for the handler's response; with
 * either, `rateLimit`: the decision (undefined when no rule decided the request: skipped,
 * exempt, unmatched, allow list).
 */
export type FetchCheck = { readonly rateLimit: RateLimitInfo | undefined } & (
  | {
      readonly response: Response;
      readonly headers?: undefined;
      readonly after?: undefined;
      readonly holds?: undefined;
    }
  | {
      readonly response?: undefined;
      readonly headers: Readonly<Record<string, string>> | undefined;
      /**
       * Call exactly once with the response's status: once you have it for refunds by status;
       * when `holds`, once the response has really ended (a streamed body read to its end), or
       * with 499 if the client left first, since it gives back a concurrency slot or the load
       * shedder's count.
       */
      readonly after: ((status: number) => void) | undefined;
      /** True when `after` gives capacity back (`concurrency`, `shed`). */
      readonly holds: boolean;
    }
);

/** What fetchRateLimit returns. */
export interface FetchRateLimit {
  /**
   * Wraps a fetch handler `(request, ...rest) => Response`: limited requests get the limiter's
   * response; the others run the handler and get the rate-limit headers on its response.
   */
  wrap<Args extends unknown[]>(
    handler: (request: Request, ...args: Args) => Response | Promise<Response>,
  ): (request: Request, ...args: Args) => Promise<Response>;
  /**
   * The decision on a request `wrap` is handling (for its handler to read), or undefined when
   * no rule decided it or the request is not one `wrap` let through.
   */
  rateLimit(request: Request): RateLimitInfo | undefined;
  /** Decides without a handler (for Next.js middleware and the like). */
  check(request: Request, context?: unknown): Promise<FetchCheck>;
  /** The underlying HTTP limiter (lists, clientAddress, close). */
  readonly limiter: HttpLimiter<FetchRaw>;
}

class FetchRequest implements HttpRequest<FetchRaw> {
  readonly method: string;
  readonly path: string;
  readonly raw: FetchRaw;

  constructor(
    request: Request,
    context: unknown,
    readonly remoteAddress: string | undefined,
  ) {
    this.method = request.method;
    this.path = pathOf(request.url);
    this.raw = { request, context };
  }

  header(name: string): string | undefined {
    return this.raw.request.headers.get(name) ?? undefined;
  }
}

/**
 * Rate limiting for Web-standard fetch handlers: Next.js route handlers, Bun.serve, Deno.serve,
 * Cloudflare Workers, @hono/node-server.
 *
 * @example
 * // app/api/hello/route.ts (Next.js)
 * import { fetchRateLimit } from "throttlekit/fetch";
 * const limit = fetchRateLimit({ policies: "10/min", trustProxy: 1, store: redisStore({ client }) });
 * export const GET = limit.wrap(async () => Response.json({ hello: "world" }));
 *
 * // Bun
 * Bun.serve({ fetch: fetchRateLimit({ policies: "100/min" }).wrap((req) => new Response("ok")) });
 */
export function fetchRateLimit(options: FetchRateLimitOptions): FetchRateLimit {
  const { remoteAddress = runtimeAddress, ...httpOptions } = options;
  const extra: ConfigProblem[] = [];
  if (typeof remoteAddress !== "function") {
    extra.push({
      option: "remoteAddress",
      received: remoteAddress,
      expected: "a function (request, context) => string | undefined",
    });
  }
  const limiter = withProblems(extra, () => createHttpLimiter<FetchRaw>(httpOptions));
  const now = httpOptions.clock ?? Date.now;
  // Requests wrap let through, to their info: gone with the Request, nothing to clean up.
  const infos = new WeakMap<Request, RateLimitInfo>();

  const check = async (request: Request, context?: unknown): Promise<FetchCheck> => {
    const o: HttpOutcome = await limiter.handle(
      new FetchRequest(request, context, remoteAddress(request, context)),
    );
    const rateLimit = rateLimitInfo(o, now);
    if (o.action === "respond") {
      return {
        response: new Response(o.body ?? null, { status: o.status, headers: o.headers }),
        rateLimit,
      };
    }
    return { headers: o.headers, after: o.after, holds: o.holds, rateLimit };
  };

  return {
    limiter,
    check,
    rateLimit: (request) => infos.get(request),
    wrap(handler) {
      return async (request, ...args) => {
        const c = await check(request, args[0]);
        if (c.response !== undefined) return c.response;
        const { after } = c;
        if (c.rateLimit !== undefined) infos.set(request, c.rateLimit);
        // Watched from before the handler runs: a client that leaves meanwhile frees its slot.
        const held =
          after !== undefined && c.holds ? holdUntilSent(after, request, args[0]) : undefined;
        let response: Response;
        try {
          response = await handler(request, ...args);
        } catch (error) {
          if (held !== undefined) held.failed();
          else after?.(500);
          throw error;
        }
        if (c.headers !== undefined) response = withHeaders(response, c.headers);
        if (held !== undefined) return held.sent(response);
        after?.(response.status);
        return response;
      };
    },
  };
}
