/**
 * throttlekit/graphql: price GraphQL operations before they run (cost, depth, aliases, root
 * fields), charge per-identity points budgets and operation rates, settle after execution, and
 * plug into GraphQL Yoga (envelop), Apollo Server and Mercurius (docs/graphql.md).
 */
export { actualCost } from "./actual-cost.js";
export { analyze } from "./analyze.js";
export {
  type ApolloIntegrationOptions,
  type ApolloRateLimitPlugin,
  type ApolloRaw,
  type ApolloRequestContext,
  apolloRateLimit,
} from "./apollo.js";
export {
  type EnvelopIntegrationOptions,
  type RateLimitPlugin,
  useRateLimit,
  type YogaRaw,
} from "./envelop.js";
export { createGraphQLLimiter } from "./limiter.js";
export {
  type MercuriusRateLimitOptions,
  type MercuriusRateLimitPlugin,
  type MercuriusRaw,
  mercuriusRateLimit,
} from "./mercurius.js";
export {
  type GraphQLErrorConstructor,
  type RefusalExtensions,
  refusalExtensions,
  toGraphQLError,
} from "./refusal.js";
export type {
  Analysis,
  AnalyzeOptions,
  CheckInput,
  CheckResult,
  CostOptions,
  GraphQLLimiter,
  GraphQLLimiterOptions,
  OperationType,
  RateLimitExtension,
  Refusal,
  RefusalCode,
} from "./types.js";
