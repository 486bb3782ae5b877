/**
 * The demo: a plain node:http server on 127.0.0.1:3000, limited per client address with the
 * embedded memory store. Run it with `npm run demo`, then:
 *   for i in $(seq 12); do curl -s -o /dev/null -w "%{http_code}\n" localhost:3000; done
 */
import { createServer } from "node:http";
import { createLimiter } from "../../src/index.js";

const limiter = createLimiter({
  policies: [
    { name: "burst", limit: 10, window: "10s" },
    { name: "hourly", limit: 100, window: "1h", algorithm: "gcra" },
  ],
});

const port = Number(process.env.PORT ?? 3000);
const server = createServer(async (req, res) => {
  const d = await limiter.consume(req.socket.remoteAddress ?? "unknown");
  res.setHeader("RateLimit-Policy", d.policies.map((p) => `"${p.policy.name}";q=${p.limit};w=${p.policy.windowMs / 1000}`).join(", "));
  res.setHeader("RateLimit", `"${d.policy.name}";r=${d.remaining};t=${Math.ceil(d.resetMs / 1000)}`);
  if (!d.allowed) {
    res.writeHead(429, { "Retry-After": String(Math.ceil(d.retryAfterMs / 1000)), "Cache-Control": "no-store" });
    res.end(`Too many requests: retry in ${Math.ceil(d.retryAfterMs / 1000)} s\n`);
    return;
  }
  res.end(`Hello! ${d.remaining} left in the "${d.policy.name}" policy.\n`);
});

server.listen(port, "127.0.0.1", () => {
  console.log(`throttlekit demo on http://127.0.0.1:${port} (10 per 10 s, 100 per hour per client)`);
});
