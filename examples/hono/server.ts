/**
 * Hono on @hono/node-server with throttlekit, on 127.0.0.1:3000 (PORT to change it):
 *   npx tsx examples/hono/server.ts
 *   for i in $(seq 7); do curl -s -o /dev/null -w "%{http_code}\n" -X POST localhost:3000/login; done
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { honoRateLimit } from "throttlekit/hono";

const app = new Hono();

app.use(
  honoRateLimit({
    rules: [
      { path: "/login", methods: "POST", policies: "5/min", blockFor: "15m" },
      { path: "/health", exempt: true },
    ],
    policies: [
      { name: "burst", limit: 10, window: "10s" },
      { name: "hourly", limit: 300, window: "1h" },
    ],
  }),
);

app.get("/", (c) => c.json({ hello: "world" }));
app.post("/login", (c) => c.json({ ok: true }));
app.get("/health", (c) => c.text("ok"));

const port = Number(process.env.PORT ?? 3000);
serve({ fetch: app.fetch, hostname: "127.0.0.1", port }, () => {
  console.log(`throttlekit + Hono on http://127.0.0.1:${port}`);
});
