/**
 * The wall clock for decisions made without an injected clock.
 *
 * `Date.now()` costs ~60-90 ns on a VM, a fifth of a whole memory-store decision. A burst of
 * decisions made in one run of the microtask queue (a server answering many requests per tick)
 * reads it once: the value is kept until the queue drains, and re-read at least every 64 reads
 * so a long synchronous loop still sees time move. A decision's time is therefore never staler
 * than the work done since the last read, and never carried across an idle period.
 *
 * The value is forgotten by a reaction on an already-settled promise, not `queueMicrotask`:
 * Node wraps every queueMicrotask callback in an AsyncResource, which cost a server answering
 * one request per tick (so one read per microtask drain) more than the clock read it saved.
 * Promises exist in every runtime, edge ones included.
 */
let cached = -1;
let reads = 0;

const SETTLED = Promise.resolve();
const forget = (): void => {
  cached = -1;
};

export function wallNow(): number {
  if (cached < 0 || ++reads >= 64) {
    if (cached < 0) void SETTLED.then(forget);
    cached = Date.now();
    reads = 0;
  }
  return cached;
}
