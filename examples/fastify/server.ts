/**
 * Fastify 5 with throttlekit on 127.0.0.1:3000 (PORT to change it):
 *   npx tsx examples/fastify/server.ts
 *   for i in $(seq 7); do curl -s -o /dev/null -w "%{http_code}\n" -X POST localhost:3000/login; done
 */
import Fastify from "fastify";
import { fastifyRateLimit } from "throttlekit/fastify";
import { apiKey, ip } from "throttlekit/http";

const app = Fastify({ logger: true });

await app.register(fastifyRateLimit, {
  policies: [
    { name: "burst", limit: 10, window: "10s" },
    { name: "hourly", limit: 300, window: "1h" },
  ],
  rules: [{ path: "/api/**", identity: apiKey("x-api-key", { fallback: ip() }), policies: "20/s" }],
});

app.get("/", async () => ({ hello: "world" }));
app.get("/api/items", async () => [{ id: 1 }]);
// This route's own limits, compiled once when the route is registered.
app.post("/login", { config: { rateLimit: { policies: "5/min", blockFor: "15m" } } }, async () => ({
  ok: true,
}));
app.get("/report", { config: { rateLimit: { cost: 5 } } }, async () => ({ rows: [] }));
app.get("/health", { config: { rateLimit: false } }, async () => "ok");

await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT ?? 3000) });
