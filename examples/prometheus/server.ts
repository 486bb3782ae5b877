/**
 * Express 5 with throttlekit, and its metrics for Prometheus on GET /metrics (127.0.0.1:3000, or
 * $PORT). Run `npx tsx examples/prometheus/server.ts`, then:
 *   for i in $(seq 7); do curl -s -o /dev/null -w "%{http_code}\n" localhost:3000/api/items; done
 *   curl -s localhost:3000/metrics | grep throttlekit_requests_total
 * shows five requests allowed and two limited on the rule "api":
 *   throttlekit_requests_total{rule="api",policy="5/10s",outcome="allowed"} 5
 *   throttlekit_requests_total{rule="api",policy="5/10s",outcome="limited"} 2
 * Labels are the rule, the policy and the outcome: never a client key or address, so a flood
 * of clients adds no series. docs/prometheus.md lists every metric, with PromQL for Grafana.
 */
import express from "express";
import { collectDefaultMetrics, Registry } from "prom-client";
import { createEvents } from "throttlekit";
import { expressRateLimit } from "throttlekit/express";
import { prometheusMetrics } from "throttlekit/prometheus";

// One hub for every limiter of the app; the exporter counts what it hears.
const events = createEvents();
const registry = new Registry();
collectDefaultMetrics({ register: registry }); // the process's own metrics, beside ours
prometheusMetrics({ events, registry });

const app = express();

// Before the limiter, so scrapes are never limited. Serve it on an internal port or network
// in production: it is for Prometheus, not for clients.
app.get("/metrics", async (_req, res) => {
  res.type(registry.contentType).send(await registry.metrics());
});

app.use(
  expressRateLimit({
    events,
    rules: [
      { path: "/health", exempt: true },
      { path: "/api/**", name: "api", policies: "5/10s" },
      { path: "/login", name: "login", policies: "5/15m", blockFor: "15m" },
    ],
    // Every other path: the catch-all rule.
    policies: "60/min",
  }),
);

app.get("/health", (_req, res) => {
  res.send("ok");
});
app.get("/api/items", (_req, res) => {
  res.json({ items: [1, 2, 3] });
});
app.post("/login", (_req, res) => {
  res.status(401).json({ error: "wrong password" });
});

const server = app.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  const address = server.address();
  console.log(`listening on ${typeof address === "object" && address ? address.port : address}`);
});
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
