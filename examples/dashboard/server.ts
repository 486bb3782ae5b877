/**
 * A node:http app limited by throttlekit, with the dashboard mounted at /admin/throttlekit
 * (127.0.0.1:3000, or $PORT). Run it with a token of your own:
 *   DASHBOARD_TOKEN=$(openssl rand -hex 24) npx tsx examples/dashboard/server.ts
 * (without one it makes one up and prints it), open the URL it prints, sign in with the token,
 * and make some traffic:
 *   for i in $(seq 200); do curl -s -o /dev/null localhost:3000/api/items; sleep 0.02; done
 * The charts move; add 127.0.0.1 to the deny list in the page and curl gets 403; remove it
 * and it gets 200 again. The dashboard is mounted before the limiter, so denying your own
 * address never locks you out of it. docs/dashboard.md has the rest.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { memoryStore } from "throttlekit";
import { dashboard } from "throttlekit/dashboard";
import { nodeRateLimit } from "throttlekit/node";

// One store for the counters, the lists and the fleet metrics. With Redis (redisStore from
// throttlekit/redis), every process of the fleet shows up in the same dashboard.
const store = memoryStore();

const limit = nodeRateLimit({
  store,
  rules: [
    { path: "/health", exempt: true },
    { path: "/api/**", name: "api", policies: "20/10s" },
    { path: "/login", name: "login", policies: "5/min", blockFor: "1m" },
  ],
  policies: "60/min",
  // The dashboard reads what collectors record in the store, per second.
  metrics: { store },
});

const token = process.env.DASHBOARD_TOKEN ?? randomBytes(24).toString("hex");
const ui = dashboard({
  store,
  token,
  basePath: "/admin/throttlekit",
  // What the page shows under "Running config": secrets are redacted (this password never
  // reaches the browser).
  config: {
    store: { type: "memory" },
    redis: { url: "redis://:change-me@redis.internal:6379" },
    rules: [
      { path: "/api/**", name: "api", policies: "20/10s" },
      { path: "/login", name: "login", policies: "5/min", blockFor: "1m" },
    ],
  },
});

const server = createServer((req, res) =>
  // The dashboard first: requests outside /admin/throttlekit go on to the limiter.
  ui(req, res, () =>
    limit(req, res, () => {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ path: req.url }));
    }),
  ),
);

server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : address;
  if (process.env.DASHBOARD_TOKEN === undefined) console.log(`token (made up): ${token}`);
  console.log(`dashboard: http://127.0.0.1:${port}/admin/throttlekit/`);
  console.log(`listening on ${port}`);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    ui.close();
    server.closeAllConnections();
    server.close(() => {
      void limit.limiter.close().then(() => process.exit(0));
    });
  });
}
