/**
 * The demo: a plain node:http server on 127.0.0.1:3000 (or $PORT), limited per client address
 * with the embedded memory store, using throttlekit/node and the rules in ./rules.ts. Run
 * `npm run demo` (Ctrl-C or one SIGTERM to npm stops it):
 *   for i in $(seq 12); do curl -s -o /dev/null -w "%{http_code}\n" localhost:3000; done
 *   curl -i localhost:3000/api/items            # RateLimit-Policy / RateLimit headers
 *   curl -i -X POST localhost:3000/login         # 5 a minute, then locked out for a minute
 */
import { createServer } from "node:http";
import { nodeRateLimit } from "throttlekit/node";
import { policies, rules } from "./rules.js";

const limit = nodeRateLimit({ rules, policies, headers: "draft-10" });

const port = Number(process.env.PORT ?? 3000);
const server = createServer(
  limit.wrap((req, res) => {
    res.setHeader("Content-Type", "text/plain; charset=utf-8");
    res.end(`Hello from ${req.method} ${req.url}\n`);
  }),
);

// One signal stops the demo: `npm run demo` execs node (no shell left in between), npm forwards
// SIGTERM/SIGINT to it, and the server closes its connections and exits.
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}

server.listen(port, "127.0.0.1", () => {
  console.log(`throttlekit demo on http://127.0.0.1:${port}`);
  console.log("  /            10 per 10 s and 100 per hour per client");
  console.log("  /api/**      one shared pool: 20 per 10 s, 200 per hour");
  console.log("  POST /login  5 per minute, then blocked for a minute");
  console.log("  /health      never limited");
});
