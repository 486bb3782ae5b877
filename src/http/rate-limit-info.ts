import type { Decision } from "../core/decision.js";
import type { HttpOutcome } from "./options.js";

/**
 * The decision where a handler looks for it (`req.rateLimit` in Express and node:http,
 * `ctx.state.rateLimit` in Koa, `c.get("rateLimit")` in Hono, `request.rateLimit` in Fastify):
 * express-rate-limit's fields, so code written for it reads the same, plus the whole decision.
 * The numbers are the binding policy's (the one with the least remaining, or the one that
 * refused).
 */
export type RateLimitInfo = {
  /** The binding policy's limit. */
  readonly limit: number;
  /** Units in use, this request's charge included when admitted: `limit − remaining`. */
  readonly used: number;
  /** Units left. */
  readonly remaining: number;
  /** When the binding policy is back to full (the limiter's clock plus `resetMs`); undefined if never. */
  readonly resetTime: Date | undefined;
  /** The identity key the request was counted under. */
  readonly key: string;
  /** The whole decision: `allowed`, `reason`, `retryAfterMs`, every policy's own view. */
  readonly decision: Decision;
};

/** The info of an outcome a rule decided; undefined when none did (skipped, exempt, unmatched). */
export function rateLimitInfo(o: HttpOutcome, now: () => number): RateLimitInfo | undefined {
  const d = o.decision;
  if (d === undefined || o.key === undefined) return undefined;
  const resetTime = Number.isFinite(d.resetMs) ? new Date(now() + d.resetMs) : undefined;
  const { limit, remaining } = d;
  return { limit, used: limit - remaining, remaining, resetTime, key: o.key, decision: d };
}
