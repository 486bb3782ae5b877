/** Test helpers: a manual clock and the store conformance suite every store must pass. */
export { type ManualClock, manualClock } from "./manual-clock.js";
export { type ConformanceOptions, storeConformance } from "./store-conformance.js";
