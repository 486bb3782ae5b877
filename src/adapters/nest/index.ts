/**
 * throttlekit/nest: a NestJS module, guard and decorators over throttlekit's limiter and
 * throttlekit/http's identities and headers. HTTP (Express and Fastify platforms), GraphQL
 * resolvers and WebSocket gateways.
 */
/** The decision as handlers see it (`@RateLimit() info`), throttlekit/http's shape. */
export type { RateLimitInfo } from "../../http/index.js";
export { ThrottlekitExceptionFilter } from "./exception-filter.js";
export { ThrottlekitGuard } from "./guard.js";
export type { NestHttpOptions } from "./http-options.js";
export {
  ThrottlekitModule,
  type ThrottlekitModuleAsyncOptions,
  type ThrottlerOptionsFactory,
} from "./module.js";
export type { NamedPolicies, NamedPolicy } from "./named-policies.js";
export { executionContext } from "./nest-request.js";
export type {
  ErrorMessage,
  GenerateKey,
  GetTracker,
  NestHeaderStyle,
  ThrottlekitConfig,
  ThrottlekitModuleInput,
  ThrottlekitModuleOptions,
  ThrottlerLimitDetail,
} from "./options.js";
export { RateLimit } from "./rate-limit-param.js";
export { type NestKeyOptions, type RouteRef, ThrottlekitService } from "./service.js";
export { SkipThrottle, type SkipThrottleMetadata } from "./skip-throttle.js";
export { Throttle, type ThrottleMetadata, type ThrottleOverrides } from "./throttle.js";
export { ThrottlekitException } from "./throttlekit-exception.js";
export {
  days,
  hours,
  minutes,
  type Resolvable,
  seconds,
  type ThrottlerOptions,
  type ThrottlerOverride,
  weeks,
} from "./throttler-compat.js";
export {
  type ThrottlerStorage,
  type ThrottlerStorageRecord,
  throttlerStorageStore,
} from "./throttler-storage.js";
export {
  SKIP_THROTTLE_METADATA,
  THROTTLE_METADATA,
  THROTTLEKIT_CONFIG,
  THROTTLEKIT_EVENTS,
  THROTTLEKIT_METRICS,
  THROTTLEKIT_OPTIONS,
} from "./tokens.js";
export { TooManyRequestsError } from "./too-many-requests-error.js";
