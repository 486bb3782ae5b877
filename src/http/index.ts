/**
 * throttlekit/http: the framework-neutral HTTP layer (identities, rules, lists, headers,
 * responses) that every adapter calls. Import it to write an adapter, or for identities.
 */

export type { ListEntry, ListKind, ListStore } from "../core/list-store.js";
/** A bounded memo for values an adapter's hot path would rebuild per request (header names). */
export { BoundedMemo } from "./bounded-memo.js";
export type {
  AddressResolver,
  ProxyHeader,
  TrustProxy,
} from "./client-address.js";
export {
  POLICY_CACHE_SIZE,
  type PolicyFunction,
  type RequestIdentity,
} from "./dynamic-policies.js";
export {
  ceilSeconds,
  HEADER_STYLES,
  type HeaderMap,
  type HeaderRenderer,
  type HeaderStyle,
  headerRenderer,
  retryAfterSeconds,
  sfString,
} from "./headers.js";
export { createHttpLimiter, type HttpLimiter } from "./http-limiter.js";
export { type ApiKeyOptions, apiKey } from "./identity/api-key.js";
export { type IpIdentity, type IpOptions, ip } from "./identity/ip.js";
export { type JwksDocument, type JwtOptions, jwt } from "./identity/jwt.js";
export { type SessionUser, session } from "./identity/session.js";
export type { Identity, IdentityContext, IdentityResult } from "./identity/types.js";
export { IdentityError } from "./identity-error.js";
export type { KeyOptions } from "./key-management.js";
export type { HttpLists, ListAddOptions } from "./lists.js";
export type {
  ContinueOutcome,
  DeniedContext,
  HttpLimiterOptions,
  HttpOutcome,
  LimitedContext,
  ProtectOption,
  RespondOutcome,
  ShedContext,
} from "./options.js";
export type { PathPattern } from "./path-pattern.js";
// The default responses, public so adapters that answer in their own shape (Nest's exceptions,
// GraphQL errors) send the same problems as the HTTP limiter does.
export {
  ABNORMAL_USAGE_DETECTED_TYPE,
  abnormalUsageProblem,
  degradedProblem,
  deniedProblem,
  limitedProblem,
  type PlainResponse,
  PROBLEM_CONTENT_TYPE,
  type ProblemDetails,
  QUOTA_EXCEEDED_TYPE,
  rejectedProblem,
  rejectedStatus,
  shedProblem,
  TEMPORARY_REDUCED_CAPACITY_TYPE,
  unauthorizedProblem,
} from "./problem.js";
/** The decision where handlers look for it (`req.rateLimit`...), for adapters. */
export { type RateLimitInfo, rateLimitInfo } from "./rate-limit-info.js";
export type { ReloadInfo } from "./reload.js";
export { type HttpRequest, type HttpResponse, isThenable, type MaybePromise } from "./request.js";
/** The path as the framework routes it: what an adapter puts in `HttpRequest.path`. */
export { canonicalPercent, type RoutingPathOptions, routingPath } from "./request-path.js";
/** When a response has really ended, for `after` hooks that give capacity back (adapters). */
export {
  afterNodeResponse,
  CLIENT_CLOSED,
  type HeldResponse,
  holdUntilSent,
  type NodeResponseLike,
} from "./response-end.js";
export type {
  GroupPolicies,
  HttpRule,
  PolicySet,
  RuleConcurrency,
  RuleMode,
  RulePolicies,
} from "./rules.js";
export { RULE_MODES } from "./rules.js";
export { MAX_SCOPE_LENGTH, RULE_SCOPES, type RuleScope } from "./scope.js";
export { type LoadShedder, PRIORITIES, type Priority, type ShedOptions } from "./shedder.js";
/** How a framework's own trust-proxy setting differs from throttlekit's (for adapters' warning). */
export { trustProxyMismatch } from "./trust-proxy-mismatch.js";
export { UNLIMITED, type Unlimited } from "./unlimited.js";
/** Web Request/Response helpers, for adapters over fetch handlers (throttlekit/fetch, /hono). */
export { pathOf, runtimeAddress, withHeaders } from "./web-request.js";
export { withProblems } from "./with-problems.js";
