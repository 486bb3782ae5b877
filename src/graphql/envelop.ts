import { GraphQLError } from "graphql";
import { type HttpRequest, pathOf, runtimeAddress } from "../http/index.js";
import { createGraphQLLimiter } from "./limiter.js";
import {
  isGraphQLLimiter,
  type OperationPricer,
  operationPricer,
  type PricedOperation,
  type ServerRefusal,
} from "./operation.js";
import type { GraphQLErrorConstructor } from "./refusal.js";
import type {
  CheckInput,
  GraphQLLimiter,
  GraphQLLimiterOptions,
  RateLimitExtension,
} from "./types.js";

/**
 * What an identity sees on `req.raw` under Yoga: the Fetch Request and Yoga's context (the
 * server context merged in: `req`/`res` on node's http server, `env` on Workers...).
 */
export type YogaRaw = {
  readonly request: Request;
  readonly context: Readonly<Record<string, unknown>>;
};

/** The envelop plugin's own options (the limiter's are `useRateLimit`'s first argument). */
export type EnvelopIntegrationOptions = {
  /**
   * The peer's address. By default: node's `req.socket` (Yoga on node:http, Express, Fastify),
   * then what the runtime hands a fetch handler (Bun's `requestIP`, Deno's `remoteAddr`,
   * @hono/node-server's `incoming`). Elsewhere say where it is, e.g. Cloudflare's
   * `(request) => request.headers.get("cf-connecting-ip") ?? undefined`.
   * @default the server's own, when it has one
   */
  remoteAddress?: (
    request: Request,
    context: Readonly<Record<string, unknown>>,
  ) => string | undefined;
  /**
   * The GraphQLError class refusals are built with. Yoga masks any error that is not an
   * `instanceof` its own graphql's GraphQLError, so pass yours when throttlekit resolves another
   * copy of graphql than your server does.
   * @default graphql's GraphQLError
   */
  GraphQLError?: GraphQLErrorConstructor;
};

// The payloads are typed as much as this plugin reads: envelop's (and Yoga's) Plugin accepts
// this shape without throttlekit depending on @envelop/core's types.
type ExecutionResult = {
  readonly data?: unknown;
  readonly errors?: readonly unknown[];
  readonly extensions?: Readonly<Record<string, unknown>>;
};
type Args = {
  readonly schema: unknown;
  readonly document: unknown;
  readonly contextValue: unknown;
  readonly variableValues?: Readonly<Record<string, unknown>> | null | undefined;
  readonly operationName?: string | null | undefined;
};
type SetResult = (result: ExecutionResult) => void;
type Results = ExecutionResult | AsyncIterable<ExecutionResult>;
type OnNext = { onNext(payload: { result: ExecutionResult; setResult: SetResult }): void };
type DonePayload = { result: Results; setResult(result: Results): void };

/** The plugin `useRateLimit` returns; put it in Yoga's (or envelop's) `plugins`. */
export type RateLimitPlugin = {
  onExecute(payload: {
    args: Args;
    setResultAndStopExecution(result: ExecutionResult): void;
  }): Promise<
    | undefined
    | {
        onExecuteDone(payload: DonePayload): Promise<undefined | OnNext>;
      }
  >;
  onSubscribe(payload: { args: Args; setResultAndStopExecution(result: Results): void }): Promise<
    | undefined
    | {
        onSubscribeResult(payload: DonePayload): undefined | OnNext;
      }
  >;
};

/**
 * Rate-limits GraphQL Yoga 5 (or any envelop server): after parse and validate each operation
 * is priced and checked (subscriptions when they subscribe); a refusal is the operation's only
 * result, a GraphQLError whose `extensions.http` gives Yoga the status (429 + Retry-After for
 * RATE_LIMITED, 503 for SERVICE_UNAVAILABLE, 400 (200 to legacy application/json clients) for
 * the static limits, 401 when the identity refuses the request). Every result gets
 * `extensions.rateLimit`; with `settle` the unused reservation is refunded once the result is
 * known (docs/graphql.md).
 *
 * @example
 * const yoga = createYoga({
 *   schema,
 *   plugins: [useRateLimit({ maxDepth: 10, maxCost: 1000, points: "5000/h", settle: true })],
 * });
 */
export function useRateLimit(
  limiter: GraphQLLimiter<YogaRaw> | GraphQLLimiterOptions<YogaRaw>,
  integration: EnvelopIntegrationOptions = {},
): RateLimitPlugin {
  const built = isGraphQLLimiter<YogaRaw>(limiter) ? limiter : createGraphQLLimiter(limiter);
  return new YogaRateLimit(operationPricer(built), integration);
}

/** The canonical request over Yoga's Fetch Request; the path is built only if asked for. */
class YogaRequest implements HttpRequest<YogaRaw> {
  readonly method: string;
  readonly raw: YogaRaw;

  constructor(
    request: Request,
    context: Readonly<Record<string, unknown>>,
    readonly remoteAddress: string | undefined,
  ) {
    this.method = request.method;
    this.raw = { request, context };
  }

  get path(): string {
    return pathOf(this.raw.request.url);
  }

  header(name: string): string | undefined {
    return this.raw.request.headers.get(name) ?? undefined;
  }
}

type NodeContext = { req?: { socket?: { remoteAddress?: string } } };

function defaultAddress(
  request: Request,
  context: Readonly<Record<string, unknown>>,
): string | undefined {
  const socket = (context as NodeContext).req?.socket;
  return socket !== undefined ? socket.remoteAddress : runtimeAddress(request, context);
}

// Refused by the document's shape alone: Yoga answers these as it does validation errors.
const STATIC_CODES: ReadonlySet<unknown> = new Set(["QUERY_TOO_COMPLEX", "QUERY_TOO_DEEP"]);

class YogaRateLimit implements RateLimitPlugin {
  private readonly address: NonNullable<EnvelopIntegrationOptions["remoteAddress"]>;
  private readonly ErrorClass: GraphQLErrorConstructor;

  constructor(
    private readonly price: OperationPricer<YogaRaw>,
    integration: EnvelopIntegrationOptions,
  ) {
    this.address = integration.remoteAddress ?? defaultAddress;
    this.ErrorClass = integration.GraphQLError ?? (GraphQLError as GraphQLErrorConstructor);
    // envelop calls hooks detached from the plugin object.
    this.onExecute = this.onExecute.bind(this);
    this.onSubscribe = this.onSubscribe.bind(this);
  }

  async onExecute(payload: Parameters<RateLimitPlugin["onExecute"]>[0]) {
    const op = await this.price(this.inputOf(payload.args));
    if (op.refusal !== undefined) {
      payload.setResultAndStopExecution(await this.refused(op.refusal, op));
      return undefined;
    }
    return {
      onExecuteDone: async ({ result, setResult }: DonePayload): Promise<OnNext | undefined> => {
        // Incremental delivery: the data is never all in one result, so the reservation stands.
        if (isAsyncIterable(result)) return withExtension(await op.finish(undefined));
        // Settles (when on) before answering, so the client's next operation sees the refund.
        setResult(extended(result, await op.finish(result)));
        return undefined;
      },
    };
  }

  async onSubscribe(payload: Parameters<RateLimitPlugin["onSubscribe"]>[0]) {
    const op = await this.price(this.inputOf(payload.args));
    if (op.refusal !== undefined) {
      payload.setResultAndStopExecution(await this.refused(op.refusal, op));
      return undefined;
    }
    // A subscription's events never settle: its reservation stands.
    const extension = await op.finish(undefined);
    return {
      onSubscribeResult: ({ result, setResult }: DonePayload): OnNext | undefined => {
        if (isAsyncIterable(result)) return withExtension(extension);
        // Not a stream: subscribe answered with errors (e.g. the source failed).
        setResult(extended(result, extension));
        return undefined;
      },
    };
  }

  private inputOf(args: Args): CheckInput<YogaRaw> {
    const context = args.contextValue as Readonly<Record<string, unknown>>;
    const request = context.request as Request;
    return {
      schema: args.schema,
      document: args.document,
      variables: args.variableValues ?? null,
      operationName: args.operationName ?? null,
      request: new YogaRequest(request, context, this.address(request, context)),
    };
  }

  /** The refused operation's only result: its GraphQLError, whose extensions.http Yoga applies. */
  private async refused(refusal: ServerRefusal, op: PricedOperation): Promise<ExecutionResult> {
    const { message, extensions, status, headers } = refusal;
    const http = STATIC_CODES.has(extensions.code)
      ? { status, headers, spec: true }
      : { status, headers };
    const error = new this.ErrorClass(message, { extensions: { ...extensions, http } });
    const rateLimit = await op.finish(undefined);
    return rateLimit === undefined
      ? { errors: [error] }
      : { errors: [error], extensions: { rateLimit } };
  }
}

function extended(
  result: ExecutionResult,
  rateLimit: RateLimitExtension | undefined,
): ExecutionResult {
  if (rateLimit === undefined) return result;
  return { ...result, extensions: { ...result.extensions, rateLimit } };
}

function withExtension(rateLimit: RateLimitExtension | undefined): OnNext | undefined {
  if (rateLimit === undefined) return undefined;
  return {
    onNext: ({ result, setResult }) => setResult(extended(result, rateLimit)),
  };
}

function isAsyncIterable(v: unknown): v is AsyncIterable<ExecutionResult> {
  return typeof v === "object" && v !== null && Symbol.asyncIterator in v;
}
