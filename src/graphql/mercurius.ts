import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { MercuriusContext } from "mercurius";
import { type HttpRequest, routingPath } from "../http/index.js";
import { ProblemList } from "../index.js";
import { createGraphQLLimiter } from "./limiter.js";
import {
  isGraphQLLimiter,
  operationPricer,
  type PricedOperation,
  type ServerRefusal,
} from "./operation.js";
import type { GraphQLLimiter, GraphQLLimiterOptions } from "./types.js";

/** What an identity sees on `req.raw` under Mercurius: Fastify's request and reply. */
export type MercuriusRaw = { readonly request: FastifyRequest; readonly reply: FastifyReply };

/** `mercuriusRateLimit`'s options: the limiter's (docs/graphql.md). */
export type MercuriusRateLimitOptions = GraphQLLimiterOptions<MercuriusRaw>;

/** A Fastify plugin to register after Mercurius. */
export type MercuriusRateLimitPlugin = (
  instance: FastifyInstance,
  options: unknown,
  done: (error?: Error) => void,
) => void;

/**
 * The canonical request over Fastify's, as throttlekit/fastify builds it: the peer address is
 * the socket's, not `request.ip`, so forwarding headers are believed only as far as the
 * limiter's own `trustProxy` says (set it to match Fastify's), never by Fastify's setting alone.
 */
class MercuriusHttpRequest implements HttpRequest<MercuriusRaw> {
  readonly raw: MercuriusRaw;

  constructor(request: FastifyRequest, reply: FastifyReply) {
    this.raw = { request, reply };
  }

  get method(): string {
    return this.raw.request.method;
  }

  get path(): string {
    return routingPath(this.raw.request.url);
  }

  get remoteAddress(): string | undefined {
    return this.raw.request.raw.socket.remoteAddress;
  }

  header(name: string): string | undefined {
    const v = this.raw.request.headers[name];
    return typeof v === "string" ? v : Array.isArray(v) ? v.join(", ") : undefined;
  }
}

/**
 * A refusal thrown out of `preExecution`. Not a GraphQLError on purpose: Mercurius wraps it in
 * its own copy's GraphQLError (keeping `extensions`) and answers with its `statusCode`, which
 * is how Mercurius lets a hook set the status (its ErrorWithProps has the same shape).
 */
class MercuriusRefusal extends Error {
  readonly extensions: Readonly<Record<string, unknown>>;
  readonly statusCode: number;

  constructor(refusal: ServerRefusal) {
    super(refusal.message);
    this.name = "GraphQLError";
    this.extensions = refusal.extensions;
    this.statusCode = refusal.status;
  }
}

/**
 * Rate limiting for Mercurius 16 (Fastify 5): a plugin, registered after Mercurius, that adds a
 * `preExecution` hook pricing each operation before it runs (refused with a GraphQLError whose
 * `extensions.code` is RATE_LIMITED, status 429 and Retry-After; QUERY_TOO_COMPLEX or
 * QUERY_TOO_DEEP, 400; SERVICE_UNAVAILABLE, 503) and an `onResolution` hook adding
 * `extensions.rateLimit` to the result and, with `settle`, refunding what the operation reserved
 * but did not resolve. The client's address is the socket's: set `trustProxy` here as on Fastify.
 * Operations run without a reply (`app.graphql(...)` in process) are not limited.
 *
 * @example
 * import Fastify from "fastify";
 * import mercurius from "mercurius";
 * import { mercuriusRateLimit } from "throttlekit/graphql";
 *
 * const app = Fastify();
 * await app.register(mercurius, { schema, resolvers });
 * await app.register(mercuriusRateLimit({ maxDepth: 10, points: "5000/h", settle: true }));
 */
export function mercuriusRateLimit(
  options: MercuriusRateLimitOptions | GraphQLLimiter<MercuriusRaw>,
): MercuriusRateLimitPlugin {
  const own = !isGraphQLLimiter(options);
  const limiter = own ? build(options) : options;
  const price = operationPricer(limiter);
  // Mercurius makes one context object per operation (batched queries too): the key from
  // preExecution to onResolution, gone with the request.
  const operations = new WeakMap<object, PricedOperation>();

  const plugin: MercuriusRateLimitPlugin = (instance, _options, done) => {
    if (typeof instance.graphql?.addHook !== "function") {
      done(new Error("mercuriusRateLimit: register mercurius before it (no app.graphql found)"));
      return;
    }
    instance.graphql.addHook("preExecution", async (schema, document, context, variables) => {
      const { reply } = context as Partial<MercuriusContext>;
      if (reply === undefined) return;
      const operation = await price({
        schema,
        document,
        variables: variables ?? null,
        operationName: operationNameOf(reply.request, context),
        request: new MercuriusHttpRequest(reply.request, reply),
      });
      const refusal = operation.refusal;
      if (refusal !== undefined) {
        // The error handler keeps headers set on the reply; its statusCode sets the status.
        for (const name in refusal.headers) reply.header(name.toLowerCase(), refusal.headers[name]);
        throw new MercuriusRefusal(refusal);
      }
      operations.set(context, operation);
    });
    instance.graphql.addHook("onResolution", async (execution, context) => {
      const operation = operations.get(context);
      if (operation === undefined) return;
      operations.delete(context);
      const rateLimit = await operation.finish(execution);
      if (rateLimit !== undefined) {
        (execution as { extensions?: Record<string, unknown> }).extensions = {
          ...execution.extensions,
          rateLimit,
        };
      }
    });
    if (own) instance.addHook("onClose", async () => limiter.close());
    done();
  };
  // fastify-plugin semantics by hand: no encapsulation, like throttlekit/fastify.
  const meta = plugin as unknown as Record<symbol, unknown>;
  meta[Symbol.for("skip-override")] = true;
  meta[Symbol.for("fastify.display-name")] = "throttlekit-mercurius";
  meta[Symbol.for("plugin-meta")] = { name: "throttlekit-mercurius", fastify: "5.x" };
  return plugin;
}

function build(options: unknown): GraphQLLimiter<MercuriusRaw> {
  if (typeof options !== "object" || options === null) {
    const problems = new ProblemList();
    problems.add("options", options, "limiter options, or a limiter from createGraphQLLimiter");
    problems.throwIfAny();
  }
  return createGraphQLLimiter<MercuriusRaw>(options as MercuriusRateLimitOptions);
}

/**
 * Mercurius does not pass the operation name to its hooks: it is the request's (POST body, or
 * GET query string), the `operationId`-th entry of a batch.
 */
function operationNameOf(request: FastifyRequest, context: object): string | null {
  const id = (context as Partial<MercuriusContext>).operationId;
  const body = request.body as unknown;
  const source =
    Array.isArray(body) && typeof id === "number"
      ? body[id]
      : typeof body === "object" && body !== null
        ? body
        : request.query;
  const name = (source as { operationName?: unknown } | undefined)?.operationName;
  return typeof name === "string" ? name : null;
}
