/**
 * One process of the scheduler fleet test (scheduler-fleet.test.ts): a scheduler on a limiter
 * shared through Redis, scheduling calls as fast as it can for `durationMs` once told "go";
 * each admitted job sends one HTTP request to the test's counting server, stamped with the
 * moment the job started. Argv: redis port, counting-server port, duration in ms, then the
 * policy window in ms and the key prefix (all processes of one run share them).
 * Reports over IPC: "ready" once its connections are warm, then { done } when it has stopped.
 */
import { Agent, get } from "node:http";
import { Redis } from "ioredis";
import { createLimiter } from "../../src/core/limiter.js";
import { createScheduler } from "../../src/core/scheduler.js";
import { redisStore } from "../../src/stores/redis/index.js";

const [redisPort, counterPort, durationMs, windowMs, prefix] = process.argv.slice(2);
/** Jobs kept waiting at all times: "as fast as it can" without an unbounded queue. */
const BACKLOG = 20;
const CONCURRENCY = 8;
const id = process.pid;

const client = new Redis(Number(redisPort), "127.0.0.1");
const limiter = createLimiter({
  policies: { limit: 50, window: Number(windowMs), algorithm: "sliding-log" },
  store: redisStore({ client }),
  prefix: prefix!,
});
const scheduler = createScheduler({ limiter, concurrency: CONCURRENCY, key: "vendor" });
// Keep-alive sockets opened before "go": a job's request is written at once, with no connect.
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function hit(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = get({ host: "127.0.0.1", port: Number(counterPort), path, agent }, (res) => {
      res.resume();
      res.once("end", resolve);
    });
    req.once("error", reject);
  });
}

await Promise.all(Array.from({ length: CONCURRENCY }, () => hit("/warm")));
await limiter.peek("warm");
process.send!("ready");

process.once("message", async () => {
  const stopAt = Date.now() + Number(durationMs);
  const stop = new AbortController();
  let sent = 0;
  let failed = 0;
  // Date.now(): the one clock every process reads alike (performance.timeOrigin differs by ms).
  const job = () => hit(`/hit?w=${id}&s=${Date.now()}`).then(() => void sent++);
  const next = (): void => {
    if (Date.now() >= stopAt) return;
    scheduler.schedule(job, { signal: stop.signal }).then(next, () => {
      if (stop.signal.aborted) return; // still queued when time was up: expected
      failed++;
      next();
    });
  };
  for (let i = 0; i < BACKLOG; i++) next();
  await new Promise((r) => setTimeout(r, Math.max(0, stopAt - Date.now())));
  stop.abort(new Error("time is up"));
  await scheduler.idle();
  process.send!({ done: { sent, failed } }, () => {
    client.disconnect();
    agent.destroy();
    process.exit(0);
  });
});
