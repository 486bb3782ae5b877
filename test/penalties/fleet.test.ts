/**
 * Penalties are fleet-wide (issue 17 item 5): two processes (offender-worker.ts) on one real
 * redis-server, driven in turn on one shared clock. The second process's block continues the
 * row the first started, and a ban counts the refusals both processes saw, once.
 */
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisNode, startRedis } from "../support/redis-server.js";

const WORKER = join(import.meta.dirname, "offender-worker.ts");
const MIN = 60_000;
const DAY = 86_400_000;

type Answer = { reason: string; retryAfterMs: number; bans: number };

let redis: RedisNode;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  redis = await startRedis();
}, 60_000);

afterAll(async () => {
  for (const child of children) if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  await redis?.stop();
});

function spawnWorker(prefix: string): Promise<ChildProcess> {
  const child = fork(WORKER, [String(redis.port), prefix], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("worker not ready")), 30_000);
    child.once("message", (m) => {
      clearTimeout(timer);
      if (m === "ready") resolve(child);
      else reject(new Error(`unexpected ${JSON.stringify(m)}`));
    });
  });
}

function ask(child: ChildProcess, message: object): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${child.pid} did not answer`)), 10_000);
    child.once("message", (m) => {
      clearTimeout(timer);
      resolve(m as Answer);
    });
    child.send(message);
  });
}

describe("penalties across two processes on one Redis", () => {
  it("the second process's block continues the first's row, and forgetAfter resets it for both", async () => {
    const prefix = `pen-${process.pid}-${Date.now()}`;
    const [a, b] = await Promise.all([spawnWorker(prefix), spawnWorker(prefix)]);
    let now = 1_800_000_000_000;
    const waits: number[] = [];
    for (const worker of [a, b, a, b, a]) {
      const refusal = await ask(worker!, { op: "offend", now });
      expect(refusal.reason).toBe("limited");
      waits.push(refusal.retryAfterMs);
      // The other process sees the block the first one started, to the ms.
      const other = worker === a ? b! : a!;
      const seen = await ask(other, { op: "consume", now: now + 1, limiter: "escalating" });
      expect(seen).toMatchObject({ reason: "blocked", retryAfterMs: refusal.retryAfterMs - 1 });
      now += refusal.retryAfterMs;
    }
    expect(waits.map((w) => w / MIN)).toEqual([1, 2, 4, 8, 16]);
    now += DAY; // clean for forgetAfter past the last block's end
    expect((await ask(b!, { op: "offend", now })).retryAfterMs).toBe(MIN);
    for (const w of [a!, b!]) w.send("exit");
  }, 60_000);

  it("a ban counts the refusals both processes saw, and starts once", async () => {
    const prefix = `ban-${process.pid}-${Date.now()}`;
    const [a, b] = await Promise.all([spawnWorker(prefix), spawnWorker(prefix)]);
    const now = 1_800_000_000_000;
    const consume = (w: ChildProcess, at: number) =>
      ask(w, { op: "consume", now: at, limiter: "banning" });
    expect((await consume(a!, now)).reason).toBe("ok");
    expect(await consume(a!, now + 1)).toMatchObject({ reason: "limited", retryAfterMs: MIN - 1 });
    expect(await consume(b!, now + 2)).toMatchObject({ reason: "limited", retryAfterMs: MIN - 2 });
    // The third refusal within the hour, in the first process again: banned for a day.
    expect(await consume(a!, now + 3)).toMatchObject({ reason: "limited", retryAfterMs: DAY });
    expect(await consume(a!, now + 4)).toMatchObject({ reason: "blocked", retryAfterMs: DAY - 1 });
    // The second process still answers its own refusal from its local cache ("limited" until
    // that refusal's wait is over), and counts what it refuses: the count is blocked for the
    // ban, so no second ban starts however often it refuses.
    for (let i = 5; i < 10; i++) expect((await consume(b!, now + i)).reason).not.toBe("ok");
    const seen = await consume(b!, now + MIN + 1);
    expect(seen).toMatchObject({ reason: "blocked", retryAfterMs: DAY + 3 - (MIN + 1) });
    const bans = (await consume(a!, now + MIN + 2)).bans + seen.bans;
    expect(bans).toBe(1);
    // When the ban ends, it takes three fresh refusals to start the next.
    const later = now + DAY + 3;
    expect((await consume(b!, later)).reason).toBe("ok");
    expect((await consume(b!, later + 1)).retryAfterMs).toBe(MIN - 1);
    expect((await consume(a!, later + 2)).retryAfterMs).toBe(MIN - 2);
    expect((await consume(a!, later + 3)).retryAfterMs).toBe(DAY);
    for (const w of [a!, b!]) w.send("exit");
  }, 60_000);
});
