import { GraphQLError } from "graphql";
import type { Refusal } from "./types.js";

/** The constructor `toGraphQLError` builds with: graphql 16's or 17's GraphQLError (both fit). */
export type GraphQLErrorConstructor<E = unknown> = new (
  message: string,
  options: { extensions: Record<string, unknown> },
) => E;

/** `extensions` of a refusal's GraphQLError. */
export type RefusalExtensions = {
  readonly code: Refusal["code"];
  readonly cost: number;
  readonly limit: number;
  /** null when no wait can help (JSON has no Infinity). */
  readonly retryAfterMs: number | null;
  /**
   * Read by GraphQL Yoga and Apollo Server to set the response's status and headers: 429 with
   * Retry-After for RATE_LIMITED, 503 for SERVICE_UNAVAILABLE, 400 for the static limits.
   */
  readonly http: {
    readonly status: number;
    readonly headers: Readonly<Record<string, string>>;
    /**
     * True for the static limits: like a validation error, the status follows GraphQL over
     * HTTP (400 for `application/graphql-response+json`, 200 for legacy `application/json`
     * clients). Yoga reads this flag for its own validation errors.
     */
    readonly spec?: true;
  };
};

// The refusals a document earns by its shape alone, before any store is asked.
const STATIC_CODES: ReadonlySet<string> = new Set(["QUERY_TOO_COMPLEX", "QUERY_TOO_DEEP"]);

/** The extensions a refusal's GraphQLError carries (integrations that build their own error). */
export function refusalExtensions(refusal: Refusal): RefusalExtensions {
  return {
    code: refusal.code,
    cost: refusal.cost,
    limit: refusal.limit,
    retryAfterMs: Number.isFinite(refusal.retryAfterMs) ? refusal.retryAfterMs : null,
    http: STATIC_CODES.has(refusal.code)
      ? { status: refusal.status, headers: refusal.headers, spec: true }
      : { status: refusal.status, headers: refusal.headers },
  };
}

/**
 * Turns a refusal into the GraphQLError a server sends: `extensions.code` says why, `cost`,
 * `limit` and `retryAfterMs` say by how much, and `extensions.http` carries the HTTP status and
 * Retry-After for servers that read it (Yoga, Apollo). Pass your own GraphQLError class when the
 * server runs another copy of graphql (graphql 17, a bundled one) than this package resolves.
 *
 * @example
 * const r = await limiter.check({ schema, document, key: userId });
 * if (!r.allowed) return { errors: [toGraphQLError(r.refusal)] };
 */
export function toGraphQLError<E = GraphQLError>(
  refusal: Refusal,
  GraphQLErrorClass?: GraphQLErrorConstructor<E>,
): E {
  const Ctor = (GraphQLErrorClass ?? GraphQLError) as GraphQLErrorConstructor<E>;
  return new Ctor(refusal.message, {
    extensions: refusalExtensions(refusal) as unknown as Record<string, unknown>,
  });
}
