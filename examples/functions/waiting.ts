/**
 * Waiting for a slot instead of failing: a batch job calling a vendor API that allows 5 calls
 * per second. Run `node --import tsx examples/functions/waiting.ts`: the first five lookups go
 * out at once, the rest one every 200 ms, in the order they were asked; a lookup that will not
 * wait more than 500 ms is refused as soon as its turn is known to be later. Ctrl-C stops the
 * batch: waiting lookups leave at once, spending none of the quota.
 */
import { createLimiter, RateLimitedError } from "throttlekit";

// One limiter per vendor quota. On a fleet, give it a redisStore({ client })
// (throttlekit/redis) so every process shares the same 5 per second.
const vendor = createLimiter({ policies: { limit: 5, window: "1s", algorithm: "gcra" } });

const stop = new AbortController();
process.once("SIGINT", () => stop.abort(new Error("interrupted")));

/** Stands in for the vendor's HTTP call: `fetch(url, { signal })` in real code. */
async function callVendor(id: number, signal: AbortSignal): Promise<string> {
  signal.throwIfAborted();
  return `item ${id}`;
}

async function lookup(id: number, maxWaitMs: string): Promise<string> {
  // Resolves when this call may go out; rejects with RateLimitedError if that is more than
  // maxWaitMs away, or with the signal's reason on Ctrl-C.
  await vendor.waitFor("vendor-api", { maxWaitMs, signal: stop.signal });
  return callVendor(id, stop.signal);
}

const start = Date.now();
const ids = Array.from({ length: 12 }, (_, i) => i + 1);
const lookups = [
  ...ids.map((id) => lookup(id, "5s")),
  lookup(13, "500ms"), // 12 calls are ahead of it: its turn is about 1.6 s away
].map((call, i) =>
  call.then(
    (item) => report(i, `${item}`),
    (error: unknown) => {
      if (error instanceof RateLimitedError) report(i, `refused: ${error.message}`);
      else if (stop.signal.aborted) report(i, "not sent (interrupted)");
      else throw error;
    },
  ),
);
await Promise.all(lookups);

function report(i: number, what: string): void {
  console.log(`${String(i + 1).padStart(2)}: ${what} after ${Date.now() - start} ms`);
}
