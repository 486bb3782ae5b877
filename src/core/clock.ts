/**
 * The wall clock for decisions made without an injected clock.
 *
 * `Date.now()` costs ~90 ns on a VM, a fifth of a whole memory-store decision. A burst of
 * decisions made in one run of the microtask queue (a server answering many requests per tick)
 * reads it once: the value is kept until the queue drains, and re-read at least every 64 reads
 * so a long synchronous loop still sees time move. A decision's time is therefore never staler
 * than the work done since the last read, and never carried across an idle period.
 * `queueMicrotask` exists in every runtime, edge ones included.
 */
let cached = -1;
let reads = 0;

const forget = (): void => {
  cached = -1;
};

export function wallNow(): number {
  if (cached < 0 || ++reads >= 64) {
    if (cached < 0) queueMicrotask(forget);
    cached = Date.now();
    reads = 0;
  }
  return cached;
}
