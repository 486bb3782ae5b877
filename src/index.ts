/**
 * throttlekit: the core (policies, algorithms, limiter) and the embedded memory store.
 * Runs anywhere JavaScript does: no `node:*` imports below src/core.
 */

export { type BanOptions, MAX_BAN_AFTER } from "./core/ban.js";
export {
  type AcquireOptions,
  type AcquireResult,
  type ConcurrencyLimiter,
  type ConcurrencyLimiterOptions,
  createConcurrencyLimiter,
  type Lease,
} from "./core/concurrency.js";
export type { Decision, PolicyDecision, Reason } from "./core/decision.js";
export {
  type Duration,
  formatDuration,
  parseDuration,
  parseTimerDuration,
  TIMER_DURATION_FORM,
} from "./core/duration.js";
// ProblemList is public so adapters and stores outside the core validate options the same way:
// every problem collected, one ConfigError.
export { ConfigError, type ConfigProblem, ProblemList } from "./core/errors/config-error.js";
export { RateLimitedError } from "./core/errors/rate-limited-error.js";
export { StoreError } from "./core/errors/store-error.js";
export { SyncUnsupportedError } from "./core/errors/sync-unsupported-error.js";
export {
  isThrottlekitError,
  ThrottlekitError,
  type ThrottlekitErrorCode,
} from "./core/errors/throttlekit-error.js";
export {
  type AutoBlockEvent,
  createEvents,
  type DecisionEvent,
  type DeniedEvent,
  EVENT_TYPES,
  type EventHub,
  type EventHubOptions,
  type EventListener,
  emitDecision,
  type ReloadedEvent,
  type ReloadRejectedEvent,
  SILENT_EVENTS,
  type StoreEvent,
  type ThrottleEvent,
  type ThrottleEventMap,
  type ThrottleEventType,
  type ViolationEvent,
} from "./core/events.js";
export {
  type ConsumeOptions,
  createLimiter,
  type Limiter,
  type LimiterOptions,
  MAX_KEY_LENGTH,
} from "./core/limiter.js";
export type { ListEntry, ListEntryInput, ListKind, ListStore } from "./core/list-store.js";
export {
  consoleLogger,
  type Logger,
  silentLogger,
  type WarningCode,
  warn,
  warnOnce,
} from "./core/logger.js";
export { memoryLists } from "./core/memory-list-store.js";
export { type MemoryStore, type MemoryStoreOptions, memoryStore } from "./core/memory-store.js";
export { createMetrics } from "./core/metrics/collector.js";
export { type ReadFleetMetricsOptions, readFleetMetrics } from "./core/metrics/read-fleet.js";
export {
  type FleetMetrics,
  type FleetSecond,
  type LatencySummary,
  type Metrics,
  type MetricsBinding,
  type MetricsOptions,
  type MetricsSnapshot,
  type Offender,
  OUTCOMES,
  type Outcome,
  type OutcomeCounts,
  type RuleMetrics,
} from "./core/metrics/types.js";
export {
  ALGORITHMS,
  type AlgorithmName,
  type BlockForInput,
  type EscalatingBlockFor,
  type Escalation,
  MAX_LIMIT,
  MAX_POLICY_MS,
  type Policy,
  type PolicyInput,
  type PolicyOptions,
  parsePolicies,
} from "./core/policy.js";
export {
  type BucketInput,
  createLimiterRegistry,
  type LimiterRegistry,
  type LimiterRegistryOptions,
  MAX_BUCKETS,
  type RegistryThrottleOptions,
  type RegistryWrapOptions,
  type SyncLimiterRegistry,
  type TokenThrottlerBucket,
} from "./core/registry.js";
export {
  createScheduler,
  type ScheduledFn,
  type ScheduleOptions,
  type Scheduler,
  type SchedulerOptions,
} from "./core/scheduler.js";
export type {
  ConcurrencyAnswer,
  ConcurrencyBinding,
  Store,
  StoreBinding,
} from "./core/store.js";
export { type ThrottleDecorator, type ThrottleOptions, throttle } from "./core/throttle.js";
export type { Timers } from "./core/timers.js";
export type { WaitOptions } from "./core/wait-for.js";
export {
  type AnyFunction,
  DEFAULT_WRAP_KEY,
  type Fallback,
  type OnLimitedMode,
  type Returning,
  type SyncLimiter,
  type WrapOptions,
  type Wrapped,
} from "./core/wrap.js";
export { createAbuseDetector } from "./protect/abuse-detector.js";
export {
  ABUSE_REASON_PREFIX,
  type AbuseDetector,
  type AbuseDetectorOptions,
  type AbuseSignal,
  type TrafficInfo,
  type TrafficVerdict,
} from "./protect/types.js";
