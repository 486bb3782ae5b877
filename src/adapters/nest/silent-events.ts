import type { EventHub } from "../../index.js";

const NOTHING = (): void => {};

/**
 * A hub that never listens, for the guard's per-route limiters: their keys are generateKey's
 * (`Controller.handler:tracker`), so the guard emits their decisions itself under the tracker.
 * On a hub of their own, a `node:diagnostics_channel` subscriber would make them active and see
 * each request twice.
 */
export const SILENT_EVENTS: EventHub = Object.freeze({
  active: false,
  timing: false,
  on: () => NOTHING,
  off: NOTHING,
  wants: () => false,
  emit: NOTHING,
  wantTimings: () => NOTHING,
});
