import type { EventHub } from "../../index.js";

const NOTHING = (): void => {};

/**
 * A hub that never listens, for the per-connection message limiters: their keys are connection
 * ids, so the adapter emits their decisions itself under the connection's identity key. On a
 * hub of their own, a `node:diagnostics_channel` subscriber would make them active and see each
 * message twice, once under a connection id.
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
