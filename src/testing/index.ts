/** Test helpers: a manual clock and the conformance suites every store must pass. */
export {
  type ConcurrencyConformanceOptions,
  concurrencyConformance,
} from "./concurrency-conformance.js";
export { type ManualClock, type ManualTimers, manualClock } from "./manual-clock.js";
export { type ConformanceOptions, storeConformance } from "./store-conformance.js";
