import type { Held, InFlight } from "./in-flight.js";
import type { Target } from "./rules.js";

/**
 * The `after` hooks of a request that went on (ContinueOutcome.after), called by adapters with
 * the final status once the response has ended.
 */

/** `after` for a request holding a slot: the slot goes back once, then the refund applies. */
export function releaseOnce(
  inFlight: InFlight,
  held: Held,
  refund: ((status: number) => void) | undefined,
): (status: number) => void {
  let done = false;
  return (status) => {
    // Once, whatever the adapter does: a second release could free another request's slot
    // count in the shedder, and a second refund would credit the client twice.
    if (done) return;
    done = true;
    inFlight.release(held);
    refund?.(status);
  };
}

/** `after` of `countFailed: false` / `countSuccessful: false`: gives the charge back by status. */
export function refundByStatus(
  target: Target,
  key: string,
  cost: number,
  refundFailed: boolean,
  refundSuccessful: boolean,
): (status: number) => void {
  return (status) => {
    if (status >= 400 ? refundFailed : refundSuccessful) {
      // A refund that fails leaves the request counted: the safe side.
      target.limiter.refund(key, cost).catch(() => {});
    }
  };
}
