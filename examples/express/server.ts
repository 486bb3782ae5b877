/**
 * Express 5 with throttlekit on 127.0.0.1:3000 (PORT to change it). Run it with
 * `npx tsx examples/express/server.ts`, then:
 *   for i in $(seq 7); do curl -s -o /dev/null -w "%{http_code}\n" -X POST localhost:3000/login; done
 *   curl -i -H "x-api-key: demo-pro-key" localhost:3000/api/items
 */
import express from "express";
import { expressRateLimit } from "throttlekit/express";
import { apiKey, ip } from "throttlekit/http";

const plans = new Map([
  ["demo-free-key", "free"],
  ["demo-pro-key", "pro"],
]);

const app = express();

// App-wide: per API key on /api (per address without one), per address elsewhere.
app.use(
  expressRateLimit({
    headers: "draft-10",
    rules: [
      { path: "/health", exempt: true },
      {
        path: "/api/**",
        name: "api",
        identity: apiKey("x-api-key", { group: (key) => plans.get(key), fallback: ip() }),
        policies: {
          default: ["5/10s", "100/day"],
          groups: { free: ["10/10s", "1000/day"], pro: ["50/10s", "100000/day"] },
        },
      },
    ],
    policies: "60/min",
  }),
);

// Per route: a tighter limit on logins, counting only the failed attempts.
// A rule without a path covers every request this middleware sees.
const loginLimit = expressRateLimit({
  rules: [{ name: "login", policies: "5/15m", blockFor: "15m" }],
  countSuccessful: false,
});
app.post("/login", loginLimit, (_req, res) => {
  res.status(401).json({ error: "wrong password" });
});

app.get("/health", (_req, res) => {
  res.send("ok");
});
app.get("/api/items", (req, res) => {
  res.json({ items: [1, 2, 3], key: req.get("x-api-key") ?? null });
});
app.get("/", (_req, res) => {
  res.send("Hello from Express behind throttlekit.\n");
});

const port = Number(process.env.PORT ?? 3000);
app.listen(port, "127.0.0.1", () => {
  console.log(`throttlekit + express on http://127.0.0.1:${port}`);
});
