import { GraphQLError } from "graphql";
import { type HttpRequest, withProblems } from "../http/index.js";
import { ProblemList } from "../index.js";
import { createGraphQLLimiter } from "./limiter.js";
import {
  isGraphQLLimiter,
  operationPricer,
  type PricedOperation,
  type ServerRefusal,
} from "./operation.js";
import type { GraphQLLimiter, GraphQLLimiterOptions } from "./types.js";

// Apollo's types are written here as much as the plugin reads them, not imported: Apollo Server
// ships separate ESM and CJS declarations whose HeaderMap (a class with a private field) do not
// match, so a plugin typed with one is refused by code compiled against the other (NestJS's
// driver is CJS). These shapes fit both.

/** The part of a formatted GraphQL result the plugin reads and extends. */
type ApolloResult = { readonly data?: unknown; extensions?: Record<string, unknown> };

/** Apollo Server 5's GraphQLRequestContext, as much as the plugin (and `remoteAddress`) reads. */
export type ApolloRequestContext = {
  readonly request: {
    readonly http?: {
      readonly method: string;
      readonly headers: { get(name: string): string | undefined };
    };
    readonly variables?: Readonly<Record<string, unknown>>;
    readonly operationName?: string;
  };
  readonly schema: unknown;
  readonly document?: unknown;
  readonly operation?: unknown;
  /** Your context (`req` in it under NestJS and with `context: async ({ req }) => ({ req })`). */
  // biome-ignore lint/suspicious/noExplicitAny: the user's own context, theirs to type
  readonly contextValue: any;
  readonly logger: { warn(message: string): void };
  readonly response: {
    readonly body?:
      | { readonly kind: "single"; readonly singleResult: ApolloResult }
      | { readonly kind: "incremental"; readonly initialResult: ApolloResult };
  };
};

/** What `apolloRateLimit` returns: an ApolloServerPlugin (put it in `plugins`). */
export type ApolloRateLimitPlugin = {
  serverWillStart(): Promise<{ serverWillStop(): Promise<void> }>;
  requestDidStart(): Promise<{
    didResolveOperation(requestContext: ApolloRequestContext): Promise<void>;
    willSendResponse(requestContext: ApolloRequestContext): Promise<void>;
  }>;
};

/** What an identity sees on `req.raw` under Apollo Server: the request's context. */
export type ApolloRaw = { readonly requestContext: ApolloRequestContext };

/** `apolloRateLimit`'s own options (the limiter's are its first argument). */
export type ApolloIntegrationOptions = {
  /**
   * The client's socket address. Apollo Server gives plugins no socket: by default it is read
   * from `contextValue.req.socket`, the Node request NestJS's Apollo driver puts in every context,
   * and yours does with `context: async ({ req }) => ({ req })` (standalone server, Express).
   * Only the socket's peer: forwarding headers in front of it are believed as far as the
   * limiter's `trustProxy` says, never by default.
   * @default ({ contextValue }) => contextValue.req?.socket?.remoteAddress
   */
  remoteAddress?: (requestContext: ApolloRequestContext) => string | undefined;
};

type AddressOf = NonNullable<ApolloIntegrationOptions["remoteAddress"]>;

type NodeContext = { req?: { socket?: { remoteAddress?: string } } };

const contextSocketAddress: AddressOf = (rc) =>
  (rc.contextValue as NodeContext | undefined)?.req?.socket?.remoteAddress;

const INTEGRATION_KEYS = ["remoteAddress"] as const;

/**
 * The canonical request over what Apollo Server shows a plugin: its HTTP method and headers
 * (`requestContext.request.http`, absent for `executeOperation`) and the address read from the
 * context. Apollo routes no paths: it is "/".
 */
class ApolloHttpRequest implements HttpRequest<ApolloRaw> {
  readonly path = "/";
  readonly raw: ApolloRaw;

  constructor(
    private readonly requestContext: ApolloRequestContext,
    private readonly address: AddressOf,
  ) {
    this.raw = { requestContext };
  }

  get method(): string {
    return this.requestContext.request.http?.method.toUpperCase() ?? "POST";
  }

  get remoteAddress(): string | undefined {
    return this.address(this.requestContext);
  }

  header(name: string): string | undefined {
    return this.requestContext.request.http?.headers.get(name);
  }
}

/**
 * Rate limiting for Apollo Server 5: prices each operation once it is parsed, validated and
 * resolved (`didResolveOperation`), refuses it before it runs with a GraphQLError whose
 * `extensions.code` is RATE_LIMITED (HTTP 429 and Retry-After), QUERY_TOO_COMPLEX or
 * QUERY_TOO_DEEP (400), or SERVICE_UNAVAILABLE (503), adds `extensions.rateLimit` to every
 * response it priced, and with `settle` refunds the points an operation reserved but did not use.
 * Works the same under NestJS GraphQL's Apollo driver (`plugins: [apolloRateLimit(...)]`).
 *
 * @example
 * import { ApolloServer } from "@apollo/server";
 * import { startStandaloneServer } from "@apollo/server/standalone";
 * import { apolloRateLimit } from "throttlekit/graphql";
 *
 * const server = new ApolloServer({
 *   typeDefs,
 *   resolvers,
 *   plugins: [
 *     apolloRateLimit({ maxDepth: 10, points: "5000/h", mutations: "20/min", settle: true }),
 *   ],
 * });
 * // The client's address: the plugin reads contextValue.req.socket (NestJS's context has it).
 * await startStandaloneServer(server, { context: async ({ req }) => ({ req }) });
 */
export function apolloRateLimit(
  limiter: GraphQLLimiter<ApolloRaw> | GraphQLLimiterOptions<ApolloRaw>,
  integration: ApolloIntegrationOptions = {},
): ApolloRateLimitPlugin {
  const problems = new ProblemList();
  problems.unknownKeys(integration, INTEGRATION_KEYS, "integration");
  const { remoteAddress } = integration;
  if (remoteAddress !== undefined && typeof remoteAddress !== "function") {
    problems.add(
      "integration.remoteAddress",
      remoteAddress,
      "a function (requestContext) => string | undefined",
    );
  }
  const given = isGraphQLLimiter<ApolloRaw>(limiter) ? limiter : undefined;
  const ownLimiter = given === undefined;
  // One ConfigError for the plugin's options and the limiter's together.
  const built = withProblems(
    problems.items,
    () => given ?? createGraphQLLimiter<ApolloRaw>(limiter as GraphQLLimiterOptions<ApolloRaw>),
  );
  const address = remoteAddress ?? contextSocketAddress;
  const price = operationPricer(built);
  let warned = remoteAddress !== undefined;
  return {
    async serverWillStart() {
      return {
        async serverWillStop() {
          if (ownLimiter) await built.close();
        },
      };
    },
    async requestDidStart() {
      let operation: PricedOperation | undefined;
      return {
        async didResolveOperation(rc) {
          // No operation (a bad operationName): Apollo answers that error itself, unpriced.
          if (rc.operation === undefined) return;
          operation = await price({
            schema: rc.schema,
            document: rc.document,
            variables: rc.request.variables ?? null,
            operationName: rc.request.operationName ?? null,
            request: new ApolloHttpRequest(rc, address),
          });
          const refusal = operation.refusal;
          if (refusal === undefined) return;
          if (
            !warned &&
            refusal.extensions.code === "UNAUTHENTICATED" &&
            address(rc) === undefined
          ) {
            // Most likely no `req` in the context: every client is refused until it is there.
            warned = true;
            rc.logger.warn(NO_ADDRESS);
          }
          throw apolloError(refusal);
        },
        async willSendResponse(rc) {
          if (operation === undefined) return;
          const body = rc.response.body;
          if (body === undefined) return;
          const result = body.kind === "single" ? body.singleResult : body.initialResult;
          // Incremental delivery: the data is not all here yet, so the reservation stands.
          const rateLimit = await operation.finish(body.kind === "single" ? result : undefined);
          if (rateLimit !== undefined) result.extensions = { ...result.extensions, rateLimit };
        },
      };
    },
  };
}

const NO_ADDRESS =
  "throttlekit apolloRateLimit: an operation was refused 401 because its identity found no " +
  "client address, and contextValue.req.socket is missing. Put the request in your context " +
  "(context: async ({ req }) => ({ req })), pass apolloRateLimit(options, { remoteAddress }), " +
  "or use an identity that does not need the address (apiKey(), jwt(), a function).";

/**
 * The refusal as Apollo sends it: `extensions.http` (a Map of headers, which is what Apollo
 * accepts) becomes the response's status and headers, and Apollo drops it from the body.
 */
function apolloError(refusal: ServerRefusal): GraphQLError {
  const extensions: Record<string, unknown> = {
    ...refusal.extensions,
    // Apollo reads headers only from a Map (GraphQL Yoga's typings, when loaded, say a record).
    http: { status: refusal.status, headers: new Map(Object.entries(refusal.headers)) },
  };
  return new GraphQLError(refusal.message, { extensions });
}
