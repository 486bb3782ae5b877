import type { Decision } from "../../index.js";

/**
 * What the guard throws in GraphQL resolvers. graphql-js copies an error's `extensions` into the
 * GraphQLError it reports, so clients see `extensions.code: "TOO_MANY_REQUESTS"` (and
 * `retryAfter` in seconds) without throttlekit importing graphql.
 */
export class TooManyRequestsError extends Error {
  readonly extensions: {
    readonly code: "TOO_MANY_REQUESTS";
    readonly retryAfter?: number;
    readonly violatedPolicies: readonly string[];
  };
  readonly decision: Decision;

  constructor(message: string, decision: Decision, retryAfter: number | undefined) {
    super(message);
    this.name = "TooManyRequestsError";
    this.decision = decision;
    const violatedPolicies: string[] = [];
    for (const pd of decision.policies) if (!pd.allowed) violatedPolicies.push(pd.policy.name);
    this.extensions = {
      code: "TOO_MANY_REQUESTS",
      ...(retryAfter === undefined ? {} : { retryAfter }),
      violatedPolicies,
    };
  }
}
