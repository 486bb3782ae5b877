/**
 * Express with the `concurrency` rule option and the `shed` load shedder, on 127.0.0.1:3000
 * (PORT to change it). Run it with `npx tsx examples/http-concurrency/server.ts`, then:
 *
 *   # At most 2 exports in flight per client: 2 answer 200 after 2 s, 3 answer 429 at once
 *   # (Retry-After: 1).
 *   for i in $(seq 5); do curl -s -o /dev/null -w "%{http_code}\n" localhost:3000/export & done; wait
 *
 *   # At most 8 requests in this process: searches (sheddable) may use 5 places, so the last
 *   # 3 of 8 get 503 at once, while a checkout (critical) still passes.
 *   for i in $(seq 8); do curl -s -o /dev/null -w "%{http_code}\n" localhost:3000/search & done
 *   curl -s -w " %{http_code}\n" -X POST localhost:3000/checkout; wait
 *
 *   # A client that gives up frees its slot: Ctrl-C this one, then the next gets in.
 *   curl localhost:3000/export
 *
 *   curl localhost:3000/stats     # in flight in this process (this one included), capacities
 */
import express from "express";
import { expressRateLimit } from "throttlekit/express";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const limit = expressRateLimit({
  rules: [
    { path: "/stats", exempt: true, priority: "critical" },
    // Per client: 2 exports at once, 30 a minute. On a Redis store, across every process.
    { path: "/export", policies: "30/min", concurrency: 2 },
    { path: "/checkout", methods: "POST", policies: "20/min", priority: "critical" },
    { path: "/search", policies: "120/min", priority: "sheddable" },
  ],
  policies: "300/min", // everything else, priority "normal"
  // Per process: 8 in flight; 2 places kept for critical requests, 1 more for normal ones.
  shed: { maxInFlight: 8, reserve: { critical: 0.25, normal: 0.125 } },
});

const app = express();
app.use(limit);
app.get("/export", async (_req, res) => {
  await sleep(2000);
  res.send("export done\n");
});
app.get("/search", async (_req, res) => {
  await sleep(1000);
  res.send("results\n");
});
app.post("/checkout", (_req, res) => {
  res.send("paid\n");
});
app.get("/stats", (_req, res) => {
  const shed = limit.limiter.shed!;
  res.json({ inFlight: shed.inFlight, capacity: shed.capacity });
});

const server = app.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  const address = server.address();
  console.log(`listening on ${typeof address === "object" && address ? address.port : address}`);
});
const stop = () => {
  server.close();
  void limit.limiter.close();
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
