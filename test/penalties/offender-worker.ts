/**
 * One process of the penalties fleet test (fleet.test.ts): two limiters on a shared redis-server,
 * one with an escalating blockFor, one with a ban, on a clock the test sets with each message
 * (every process of the fleet sees the same time). Argv: redis port, key prefix.
 * Messages: { op: "offend", now } passes once and is refused once on the escalating limiter and
 * answers the refusal; { op: "consume", now, limiter } answers one decision; "exit".
 * Reports "ready" first; answers { reason, retryAfterMs, bans } (autoBlock events seen here).
 */
import { Redis } from "ioredis";
import { createLimiter } from "../../src/core/limiter.js";
import { redisStore } from "../../src/stores/redis/index.js";

const [redisPort, prefix] = process.argv.slice(2);
let now = 0;
const client = new Redis(Number(redisPort), "127.0.0.1");
const store = redisStore({ client });
const common = { store, clock: () => now, logger: false } as const;
const escalating = createLimiter({
  ...common,
  prefix: `${prefix}:esc`,
  policies: {
    limit: 1,
    window: "1m",
    algorithm: "fixed-window",
    blockFor: { base: "1m", factor: 2, max: "1h", forgetAfter: "1d" },
  },
});
const banning = createLimiter({
  ...common,
  prefix: `${prefix}:ban`,
  policies: { limit: 1, window: "1m", algorithm: "fixed-window" },
  ban: { after: 3, within: "1h", duration: "1d" },
});
let bans = 0;
banning.on("autoBlock", () => bans++);

type Message =
  | { op: "offend"; now: number }
  | { op: "consume"; now: number; limiter: "escalating" | "banning" }
  | "exit";

process.on("message", async (m: Message) => {
  if (m === "exit") {
    client.disconnect();
    process.exit(0);
  }
  now = m.now;
  let d = await (m.op === "offend" || m.limiter === "escalating" ? escalating : banning).consume(
    "client",
  );
  if (m.op === "offend") {
    if (!d.allowed) throw new Error(`offend at ${now}: the first request was refused`);
    d = await escalating.consume("client");
  }
  process.send!({ reason: d.reason, retryAfterMs: d.retryAfterMs, bans });
});

await escalating.peek("warm");
process.send!("ready");
