/**
 * The vendor's guarantee, end to end: 4 processes (fleet-worker.ts), each scheduling calls as
 * fast as it can through one limiter on a shared Redis, for 5 s; every admitted job sends one
 * HTTP request to a counting server in this process, stamped with the moment the job started;
 * the server records that stamp and the arrival time. Real time and real processes are the
 * point here; bounded to one 5 s run.
 *
 * What is asserted, and why:
 * - JOB STARTS: at most 50 in every 1-s interval [t, t + 1 s), all processes together. A job
 *   starts (its request is handed to the network) as soon as Redis admits it, but "as soon" is
 *   the Redis reply, the event loop and the promise chain of a process on a loaded machine:
 *   it trails the admission by a delay that varies per job. Admissions themselves are exact
 *   at Redis's clock (sliding-log: at most L in any W, at whole-ms resolution), and the
 *   sliding log replays its first burst one window later, slot for slot, so one job started
 *   late followed by its slot's next one started promptly puts 51 in a 1-s interval. Measured
 *   here (2 cores shared with other work, load ~8), with a 1000 ms window: 53-54 starts in the
 *   worst 1-s interval. Hence the margin, which is the user's option, documented in
 *   docs/functions.md: the policy's window is the vendor's plus a margin above that spread,
 *   `{ limit: 50, window: "1100ms", algorithm: "sliding-log" }` (with 1050 ms, 2 runs of 8
 *   still had 51; with 1100 ms, none of 14).
 * - Not ARRIVALS: the counter's arrival stamps add the delivery delay δ (request, loopback,
 *   the counter's own event loop, which stalls up to 70 ms here) and measured δ from 0 ms to
 *   40-130 ms, worst during the first burst when every process sends at once: with the same
 *   margin, 2 runs of 14 had 51-53 arrivals in a 1-s interval. That is the machine's load
 *   showing, not the scheduler; a user sizes the margin for their own network from the
 *   spread of δ (docs/functions.md says how). The figures are printed for that reason.
 * - THROUGHPUT: at least 95% of what the vendor allows in the run, 50 × 5 = 250. (The margin
 *   costs a sustained 1 − 1000/1100 = 9%, but the run holds five windows either way;
 *   bench:functions reports the sustained rate.)
 * - Every process took part and no job failed.
 */
import { type ChildProcess, fork } from "node:child_process";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisNode, startRedis } from "../support/redis-server.js";

const WORKER = join(import.meta.dirname, "fleet-worker.ts");
const PROCESSES = 4;
const LIMIT = 50;
const VENDOR_WINDOW_MS = 1000;
/** The policy's margin over the vendor's window (see the header): above the start spread. */
const MARGIN_MS = 100;
const DURATION_MS = 5000;

type Arrival = { readonly at: number; readonly start: number; readonly worker: string };
type Done = { sent: number; failed: number };

const children = new Set<ChildProcess>();
let redis: RedisNode;
let server: Server;
let port = 0;
const arrivals: Arrival[] = [];

beforeAll(async () => {
  redis = await startRedis();
  server = createServer((req, res) => {
    // The workers stamp with Date.now() too: one clock for every process, to the ms.
    const at = Date.now();
    const url = new URL(req.url ?? "/", "http://counter");
    if (url.pathname === "/hit" && arrivals.length < 10_000) {
      arrivals.push({
        at,
        start: Number(url.searchParams.get("s")),
        worker: url.searchParams.get("w") ?? "",
      });
    }
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
}, 60_000);

afterAll(async () => {
  for (const child of children) if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await redis?.stop();
});

function spawnWorker(prefix: string): ChildProcess {
  const args = [redis.port, port, DURATION_MS, VENDOR_WINDOW_MS + MARGIN_MS, prefix].map(String);
  const child = fork(WORKER, args, {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** The first message from `child` that `pick` accepts; rejects after `ms`. */
function message<T>(
  child: ChildProcess,
  pick: (m: unknown) => T | undefined,
  ms: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${child.pid} did not answer`)), ms);
    const on = (m: unknown) => {
      const value = pick(m);
      if (value === undefined) return;
      clearTimeout(timer);
      child.off("message", on);
      resolve(value);
    };
    child.on("message", on);
  });
}

/** The most of the sorted `times` in any half-open interval [t, t + span). */
function mostInAnyInterval(times: readonly number[], span: number): number {
  let best = 0;
  let from = 0;
  for (let i = 0; i < times.length; i++) {
    while (times[from]! <= times[i]! - span) from++;
    best = Math.max(best, i - from + 1);
  }
  return best;
}

describe("createScheduler: a fleet on one Redis keeps a vendor's rate", () => {
  it(`4 processes against ${LIMIT}/s for 5 s: at most ${LIMIT} job starts in every 1-s interval, at least 95% of the allowed total`, async () => {
    const prefix = `fleet-${process.pid}-${Date.now()}`;
    const workers = Array.from({ length: PROCESSES }, () => spawnWorker(prefix));
    await Promise.all(
      workers.map((w) => message(w, (m) => (m === "ready" ? true : undefined), 30_000)),
    );
    const done = workers.map((w) => message(w, (m) => (m as { done?: Done }).done, 30_000));
    for (const w of workers) w.send("go");
    const stats = await Promise.all(done);

    const starts = arrivals.map((a) => a.start).sort((x, y) => x - y);
    const at = arrivals.map((a) => a.at).sort((x, y) => x - y);
    const delta = arrivals.map((a) => a.at - a.start).sort((x, y) => x - y);
    const worst = mostInAnyInterval(starts, VENDOR_WINDOW_MS);
    const allowed = LIMIT * Math.ceil(DURATION_MS / VENDOR_WINDOW_MS);
    console.log(
      `scheduler fleet: ${starts.length} of ${allowed} allowed; worst 1-s interval: ${worst} ` +
        `starts, ${mostInAnyInterval(at, VENDOR_WINDOW_MS)} arrivals; δ (arrival − start) ` +
        `${delta[0]}..${delta.at(-1)} ms, median ${delta[delta.length >> 1]} ms`,
    );
    expect(worst).toBeLessThanOrEqual(LIMIT);
    expect(starts.length).toBeGreaterThanOrEqual(Math.ceil(allowed * 0.95));
    expect(stats.reduce((n, s) => n + s.sent, 0)).toBe(starts.length);
    expect(stats.map((s) => s.failed)).toEqual([0, 0, 0, 0]);
    expect(new Set(arrivals.map((a) => a.worker)).size).toBe(PROCESSES);
  }, 60_000);
});
