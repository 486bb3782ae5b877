/**
 * Outbound calls to a vendor that allows 5 requests per second and answers 429 beyond that.
 * Run `node --import tsx examples/functions/scheduler.ts`: a stand-in vendor listens on
 * 127.0.0.1, and 12 calls are scheduled at once, at most 2 in flight. Five go out at once:
 * item 1 (already taking its turn), then the two urgent calls scheduled last (higher priority
 * goes first), then items 2 and 3; the rest follow as the rate allows, about 2.3 s in all. The
 * caller of item 9 gives up: it never goes out. The vendor never answers 429. Ctrl-C stops the
 * batch: calls still waiting leave at once, spending none of the quota.
 */
import { createServer } from "node:http";
import { createLimiter, createScheduler } from "throttlekit";

// --- the vendor: at most 5 requests in any 1 s, counted as they arrive, 429 beyond ---------
const arrivals: number[] = [];
const vendor = createServer((req, res) => {
  if (req.url === "/health") return void res.end();
  const now = Date.now();
  while (arrivals.length > 0 && arrivals[0]! <= now - 1000) arrivals.shift();
  arrivals.push(now);
  res.writeHead(arrivals.length > 5 ? 429 : 200).end();
});
await new Promise<void>((resolve) => vendor.listen(0, "127.0.0.1", resolve));
const { port } = vendor.address() as { port: number };

// --- our side --------------------------------------------------------------------------------
// The vendor's 5 per 1 s, exact in every 1-s span (sliding-log), plus 100 ms for delivery
// jitter: the vendor counts arrivals, which trail our admissions by a varying delay. On a
// fleet, give the limiter a redisStore({ client }) (throttlekit/redis) and pass
// `concurrency: createConcurrencyLimiter({ max: 2, leaseMs: "30s", store })` instead of 2.
const limiter = createLimiter({
  policies: { limit: 5, window: "1100ms", algorithm: "sliding-log" },
});
const scheduler = createScheduler({ limiter, concurrency: 2 });

const stop = new AbortController();
process.once("SIGINT", () => stop.abort(new Error("interrupted")));

// The first fetch of a process loads its HTTP client (100 ms or more): a delivery delay the
// margin would have to cover. Warm it first, on a path the vendor does not count.
await fetch(`http://127.0.0.1:${port}/health`);

const start = Date.now();

/** One vendor call; `signal` stops it if it is still running when the caller gives up. */
async function callVendor(id: number, signal: AbortSignal | undefined): Promise<string> {
  const sentAt = Date.now() - start;
  const res = await fetch(`http://127.0.0.1:${port}/items/${id}`, { signal: signal ?? null });
  return `item ${String(id).padStart(2)}: ${res.status}, sent at ${sentAt} ms`;
}

const gaveUp = new AbortController();
const calls = [
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((id) =>
    scheduler.schedule((signal) => callVendor(id, signal), {
      signal: id === 9 ? AbortSignal.any([stop.signal, gaveUp.signal]) : stop.signal,
    }),
  ),
  // Scheduled last, run first among those still waiting: higher priority goes first.
  ...[11, 12].map((id) =>
    scheduler.schedule((signal) => callVendor(id, signal), { priority: 10, signal: stop.signal }),
  ),
].map((call, i) =>
  call.then(
    (line) => console.log(line),
    (error: Error) => console.log(`item ${String(i + 1).padStart(2)}: not sent (${error.message})`),
  ),
);
gaveUp.abort(new Error("caller gave up")); // item 9's caller: it leaves the queue at once

console.log(`waiting: ${scheduler.size}, running: ${scheduler.pending}`);
await Promise.all(calls);
await scheduler.idle();
vendor.close();
