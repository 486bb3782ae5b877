import type { EventHub } from "../core/events.js";

const NOTHING = (): void => {};

/**
 * A hub that never listens: the hub of the limiters an HTTP limiter builds for its rules and for
 * the identity-failure budget. The engine emits each request's one event itself (with the rule's
 * name, shadow mode, the concurrency answer); were those inner limiters on a hub of their own,
 * a `node:diagnostics_channel` subscriber would make it active and see every request twice.
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
