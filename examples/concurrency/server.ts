/**
 * At most 3 slow requests in flight per client address, on a plain node:http server on
 * 127.0.0.1:3000 (or $PORT). Run `node --import tsx examples/concurrency/server.ts`, then:
 *   for i in $(seq 5); do curl -s -o /dev/null -w "%{http_code}\n" localhost:3000 & done; wait
 * Three answer 200 after a second; two answer 429 at once, with Retry-After.
 */
import { createServer } from "node:http";
import { createConcurrencyLimiter } from "throttlekit";

const slots = createConcurrencyLimiter({ max: 3, leaseMs: "10s" });

const server = createServer(async (req, res) => {
  const r = await slots.acquire(`ip:${req.socket.remoteAddress}`);
  if (!r.allowed) {
    // "limited": this client has 3 in flight; "degraded": the store is down (fail-closed).
    res.writeHead(r.decision.reason === "limited" ? 429 : 503, {
      "Retry-After": String(Math.max(1, Math.ceil(r.decision.retryAfterMs / 1000))),
    });
    res.end(`too many requests in flight (max ${r.decision.limit})\n`);
    return;
  }
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the slow work
    res.end("done\n");
  } finally {
    await slots.release(r.lease);
  }
});

server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  const address = server.address();
  console.log(`listening on ${typeof address === "object" && address ? address.port : address}`);
});
process.once("SIGTERM", () => server.close());
process.once("SIGINT", () => server.close());
