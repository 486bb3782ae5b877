import { createParamDecorator, type ExecutionContext } from "@nestjs/common";
import type { RateLimitInfo } from "../../http/index.js";
import { targetOf } from "./nest-request.js";

/**
 * The decision on this request, for the handler: `@RateLimit() info: RateLimitInfo | undefined`
 * (throttlekit/http's shape: limit, used, remaining, resetTime, key, decision). Undefined when
 * the guard decided nothing (skipped, UNLIMITED, not guarded). The guard keeps it on the
 * platform's request as `rateLimit` (`req.rateLimit` on Express, `request.rateLimit` on
 * Fastify), where middleware and filters find it too.
 *
 * @example
 * // @Get() hello(@RateLimit() info?: RateLimitInfo) { return { left: info?.remaining }; }
 */
export const RateLimit: () => ParameterDecorator = createParamDecorator(
  (_data: unknown, context: ExecutionContext): RateLimitInfo | undefined => {
    const target = targetOf(context);
    return (target?.req as { rateLimit?: RateLimitInfo } | undefined)?.rateLimit;
  },
);
