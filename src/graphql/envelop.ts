import { GraphQLError } from "graphql";
import { type HttpRequest, pathOf, runtimeAddress } from "../http/index.js";
import { isThrottlekitError } from "../index.js";
import { actualCost } from "./actual-cost.js";
import { createGraphQLLimiter, type LimiterPricing, limiterPricing } from "./limiter.js";
import { type GraphQLErrorConstructor, toGraphQLError } from "./refusal.js";
import type {
  CheckInput,
  CheckResult,
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

/** The plugin `useRateLimit` returns; put it in Yoga's (or envelop's) `plugins`. */
export type RateLimitPlugin = {
  onExecute(payload: {
    args: Args;
    setResultAndStopExecution(result: ExecutionResult): void;
  }): Promise<
    | undefined
    | {
        onExecuteDone(payload: {
          result: Results;
          setResult(result: Results): void;
        }): undefined | OnNext;
      }
  >;
  onSubscribe(payload: { args: Args; setResultAndStopExecution(result: Results): void }): Promise<
    | undefined
    | {
        onSubscribeResult(payload: {
          result: Results;
          setResult(result: Results): void;
        }): undefined | OnNext;
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
  const built = isLimiter(limiter) ? limiter : createGraphQLLimiter(limiter);
  return new YogaRateLimit(built, limiterPricing(built), integration);
}

function isLimiter(v: unknown): v is GraphQLLimiter<YogaRaw> {
  return typeof v === "object" && v !== null && typeof (v as GraphQLLimiter).check === "function";
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

const UNAUTHENTICATED = "The request lacks valid credentials, so the operation was not run.";

class YogaRateLimit implements RateLimitPlugin {
  private readonly address: NonNullable<EnvelopIntegrationOptions["remoteAddress"]>;
  private readonly ErrorClass: GraphQLErrorConstructor | undefined;

  constructor(
    private readonly limiter: GraphQLLimiter<YogaRaw>,
    private readonly pricing: LimiterPricing | undefined,
    integration: EnvelopIntegrationOptions,
  ) {
    this.address = integration.remoteAddress ?? defaultAddress;
    this.ErrorClass = integration.GraphQLError;
    // envelop calls hooks detached from the plugin object.
    this.onExecute = this.onExecute.bind(this);
    this.onSubscribe = this.onSubscribe.bind(this);
  }

  async onExecute(payload: Parameters<RateLimitPlugin["onExecute"]>[0]) {
    const input = this.inputOf(payload.args);
    const checked = await this.check(input);
    if (!checked.allowed) {
      payload.setResultAndStopExecution(checked.result);
      return;
    }
    const { result: admitted } = checked;
    return {
      onExecuteDone: ({ result, setResult }: { result: Results; setResult(r: Results): void }) => {
        if (isAsyncIterable(result)) return withExtension(admitted.extension);
        this.settle(input, admitted, result.data);
        setResult(extended(result, admitted.extension));
        return undefined;
      },
    };
  }

  async onSubscribe(payload: Parameters<RateLimitPlugin["onSubscribe"]>[0]) {
    const checked = await this.check(this.inputOf(payload.args));
    if (!checked.allowed) {
      payload.setResultAndStopExecution(checked.result);
      return;
    }
    const { extension } = checked.result;
    return {
      onSubscribeResult: ({
        result,
        setResult,
      }: {
        result: Results;
        setResult(r: Results): void;
      }) => {
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

  private async check(
    input: CheckInput<YogaRaw>,
  ): Promise<
    | { allowed: true; result: CheckResult & { allowed: true } }
    | { allowed: false; result: ExecutionResult }
  > {
    let r: CheckResult;
    try {
      r = await this.limiter.check(input);
    } catch (error) {
      // An identity that refuses the request (no address, a bad token) is the client's 401,
      // never a 500 (DESIGN §3); anything else is a fault Yoga reports as its own.
      if (!(isThrottlekitError(error) && error.code === "ERR_TK_IDENTITY")) throw error;
      const challenge = (error as { challenge?: unknown }).challenge;
      const headers = typeof challenge === "string" ? { "WWW-Authenticate": challenge } : {};
      const Ctor = (this.ErrorClass ?? GraphQLError) as GraphQLErrorConstructor;
      const e = new Ctor(UNAUTHENTICATED, {
        extensions: { code: "UNAUTHENTICATED", http: { status: 401, headers } },
      });
      return { allowed: false, result: { errors: [e] } };
    }
    if (r.allowed) return { allowed: true, result: r };
    const error = toGraphQLError(r.refusal, this.ErrorClass);
    const result: ExecutionResult =
      r.extension === undefined
        ? { errors: [error] }
        : { errors: [error], extensions: { rateLimit: r.extension } };
    return { allowed: false, result };
  }

  /** Refunds the unused reservation (without delaying the response: settle never rejects). */
  private settle(
    input: CheckInput<YogaRaw>,
    admitted: CheckResult & { allowed: true },
    data: unknown,
  ): void {
    // Without data nothing says what ran: the reservation (an upper bound) stands.
    if (this.pricing?.settle !== true || data === undefined || data === null) return;
    let actual: number;
    try {
      actual = actualCost(input.schema, input.document, data, {
        ...this.pricing.costOptions,
        variables: input.variables ?? null,
        operationName: input.operationName ?? null,
      });
    } catch {
      return;
    }
    void admitted.settle(actual);
  }
}

function extended(result: ExecutionResult, rateLimit: RateLimitExtension): ExecutionResult {
  return { ...result, extensions: { ...result.extensions, rateLimit } };
}

function withExtension(rateLimit: RateLimitExtension): OnNext {
  return {
    onNext: ({ result, setResult }) => setResult(extended(result, rateLimit)),
  };
}

function isAsyncIterable(v: unknown): v is AsyncIterable<ExecutionResult> {
  return typeof v === "object" && v !== null && Symbol.asyncIterator in v;
}
