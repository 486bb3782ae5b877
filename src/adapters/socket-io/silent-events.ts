import type { EventHub } from "../../index.js";

const NOTHING = (): void => {};

/**
 * A hub that never listens, for the event rules' limiters: per connection their keys are
 * connection numbers and their rule names (event globs) are no limiter names, so the adapter
 * emits their decisions itself, under the identity key and `socket.io:<option>:<glob>`. On a
 * hub of their own, a `node:diagnostics_channel` subscriber would make them active and see each
 * event twice.
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
