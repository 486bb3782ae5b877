/**
 * throttlekit/http: the framework-neutral HTTP layer (identities, rules, lists, headers,
 * responses) that every adapter calls. Import it to write an adapter, or for identities.
 */

export type { ListEntry, ListKind, ListStore } from "../core/list-store.js";
export type {
  AddressResolver,
  ProxyHeader,
  TrustProxy,
} from "./client-address.js";
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
export type { HttpLists, ListAddOptions } from "./lists.js";
export type {
  ContinueOutcome,
  DeniedContext,
  HttpLimiterOptions,
  HttpOutcome,
  LimitedContext,
  RespondOutcome,
} from "./options.js";
export type { PathPattern } from "./path-pattern.js";
export {
  type PlainResponse,
  PROBLEM_CONTENT_TYPE,
  type ProblemDetails,
  QUOTA_EXCEEDED_TYPE,
} from "./problem.js";
export { type HttpRequest, type HttpResponse, isThenable, type MaybePromise } from "./request.js";
export type { GroupPolicies, HttpRule, PolicySet, RulePolicies } from "./rules.js";
export { UNLIMITED, type Unlimited } from "./unlimited.js";
export { withProblems } from "./with-problems.js";
