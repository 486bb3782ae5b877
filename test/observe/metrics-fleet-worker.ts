/**
 * One process of the two-process fleet metrics test (metrics-processes.test.ts): a limiter on
 * its own memory store with a collector recording into the shared Redis; it makes its requests,
 * closes the collector (which sends every second) and reports. Argv: redis port, prefix, the
 * key to use, requests to make.
 */
import { Redis } from "ioredis";
import { createLimiter } from "../../src/core/limiter.js";
import { createMetrics } from "../../src/core/metrics/collector.js";
import { redisStore } from "../../src/stores/redis/index.js";

const [port, prefix, key, requests] = process.argv.slice(2);
const client = new Redis(Number(port), "127.0.0.1");
const limiter = createLimiter({ policies: "5/h", name: "api" });
const metrics = createMetrics(limiter.events, { store: redisStore({ client }), prefix: prefix! });
for (let i = 0; i < Number(requests); i++) await limiter.consume(key!);
await metrics.close();
process.send!({ done: metrics.snapshot().total.requests }, () => {
  client.disconnect();
  process.exit(0);
});
