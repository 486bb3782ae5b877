import { isThrottlekitError } from "../index.js";
import { actualCost } from "./actual-cost.js";
import { type LimiterPricing, limiterPricing } from "./limiter.js";
import { refusalExtensions } from "./refusal.js";
import type { CheckInput, CheckResult, GraphQLLimiter, RateLimitExtension } from "./types.js";

/**
 * A refusal as a server integration sends it: the GraphQLError's message and extensions (no
 * `http`: each server takes the status and headers its own way), the HTTP status and headers.
 */
export type ServerRefusal = {
  readonly message: string;
  readonly extensions: Readonly<Record<string, unknown>>;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
};

/** One operation priced by the limiter, as Apollo's plugin and Mercurius's hooks carry it. */
export type PricedOperation = {
  /** Why the operation may not run, or undefined when it was admitted. */
  readonly refusal: ServerRefusal | undefined;
  /**
   * Call once with the result when execution has ended (undefined when the data is not all
   * known, e.g. incremental delivery: the reservation then stands). Settles when `settle` is on
   * and answers the response's `extensions.rateLimit` (undefined when there is none). A result
   * with errors keeps the reservation too: an error nulls out data whose resolvers already ran,
   * so measuring what is left would refund work that was done. Never throws: a failed
   * measurement keeps the reservation, the safe side.
   */
  finish(result: ExecutionOutcome | undefined): Promise<RateLimitExtension | undefined>;
};

/** What finish reads of an execution result (every server's result has this shape). */
export type ExecutionOutcome = {
  readonly data?: unknown;
  readonly errors?: readonly unknown[] | null | undefined;
};

/** A limiter not built by createGraphQLLimiter: its pricing is unknown, so nothing is settled. */
const NO_SETTLE: LimiterPricing = { settle: false, costOptions: {} };

/** Prices the operations of one server: `check` per operation, settled with the limiter's pricing. */
export type OperationPricer<Raw> = (input: CheckInput<Raw>) => Promise<PricedOperation>;

const UNAUTHENTICATED_MESSAGE =
  "The request lacks valid credentials, so the operation was not run.";

/**
 * Checks one operation. An identity that throws an IdentityError (no client address, a bad or
 * missing token) refuses it as UNAUTHENTICATED with status 401 and the identity's challenge,
 * never a 500 (DESIGN §3); configuration faults and anything else are rethrown.
 */
export function operationPricer<Raw>(limiter: GraphQLLimiter<Raw>): OperationPricer<Raw> {
  const pricing = limiterPricing(limiter as GraphQLLimiter<never>) ?? NO_SETTLE;
  return (input) => priceOperation(limiter, pricing, input);
}

async function priceOperation<Raw>(
  limiter: GraphQLLimiter<Raw>,
  info: LimiterPricing,
  input: CheckInput<Raw>,
): Promise<PricedOperation> {
  let result: CheckResult;
  try {
    result = await limiter.check(input);
  } catch (error) {
    if (!(isThrottlekitError(error) && error.code === "ERR_TK_IDENTITY")) throw error;
    const challenge = (error as { challenge?: unknown }).challenge;
    return {
      refusal: {
        message: UNAUTHENTICATED_MESSAGE,
        extensions: { code: "UNAUTHENTICATED" },
        status: 401,
        headers: typeof challenge === "string" ? { "WWW-Authenticate": challenge } : {},
      },
      finish: () => Promise.resolve(undefined),
    };
  }
  if (!result.allowed) {
    const { http, ...extensions } = refusalExtensions(result.refusal);
    const extension = result.extension;
    return {
      refusal: {
        message: result.refusal.message,
        extensions,
        status: http.status,
        headers: http.headers,
      },
      finish: () => Promise.resolve(extension),
    };
  }
  const admitted = result;
  let finished = false;
  return {
    refusal: undefined,
    async finish(outcome) {
      const data = outcome?.data;
      const failed =
        outcome?.errors !== undefined && outcome.errors !== null && outcome.errors.length > 0;
      if (finished || !info.settle || data === undefined || data === null || failed) {
        return admitted.extension;
      }
      finished = true;
      try {
        const actual = actualCost(input.schema, input.document, data, {
          ...info.costOptions,
          variables: input.variables ?? null,
          operationName: input.operationName ?? null,
        });
        await admitted.settle(actual);
      } catch {
        // The reservation stands (it was the static upper bound): never fail a response here.
      }
      return admitted.extension;
    },
  };
}

/** True for a built limiter (passed where options are also accepted): it has check and close. */
export function isGraphQLLimiter<Raw>(value: unknown): value is GraphQLLimiter<Raw> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Partial<GraphQLLimiter>).check === "function" &&
    typeof (value as Partial<GraphQLLimiter>).close === "function"
  );
}
