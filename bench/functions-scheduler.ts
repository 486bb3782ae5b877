/**
 * The scheduler's figures for `npm run bench:functions` (bench/functions.ts prints them next to
 * wrap's); `node --import tsx bench/functions-scheduler.ts` runs them alone.
 *
 * 1. Overhead per scheduled call on the memory store, with a limit that never binds:
 *    `await scheduler.schedule(fn)` against `await fn()` and bottleneck's `schedule(fn)` (no
 *    limits set), one call at a time (latency) and 200 at once (throughput). The loops are
 *    interleaved round by round so drift hits each alike; medians are reported; every result
 *    is summed into a printed checksum so no call can be optimised away.
 * 2. The fleet figure on Redis: 4 processes (test/functions/fleet-worker.ts) scheduling as fast
 *    as they can against a vendor's "50/s" for 5 s, each job one HTTP request to a counting
 *    server here. The policy is the vendor's window plus a 100 ms delivery margin
 *    (docs/functions.md, "A vendor counts arrivals"). Reported: admitted per second over the
 *    run, the most job starts and arrivals in any 1-s interval, and the steady-state rate
 *    (what the margin and the wake-up delay cost over a long run).
 * Env: BENCH_ROUNDS (9).
 */
import { type ChildProcess, fork } from "node:child_process";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import Bottleneck from "bottleneck";
import { createLimiter, createScheduler } from "../src/index.js";
import { startRedis } from "../test/support/redis-server.js";
import { median } from "./lib/measure.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const NEVER_BINDS = { limit: 1_000_000_000, window: "1h" };

export type SchedulerRow = {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly note: string;
};

/** The scheduled work: cheap, so the scheduler's own cost is what shows. */
async function work(i: number): Promise<number> {
  return (i * 31) ^ (i >>> 3);
}

/** Jobs per batch in the "at once" loops. */
const BATCH = 200;

/** `n`: calls per timed round (bottleneck drains on timers, milliseconds per call: fewer). */
type Loop = { readonly label: string; readonly n: number; run(n: number): Promise<number> };

function loops(): Loop[] {
  const scheduler = createScheduler({ limiter: createLimiter({ policies: NEVER_BINDS }) });
  const bottleneck = new Bottleneck();
  const oneAtATime = (label: string, n: number, call: (i: number) => Promise<number>): Loop => ({
    label,
    n,
    async run(n) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += await call(i);
      return sum;
    },
  });
  const atOnce = (label: string, n: number, call: (i: number) => Promise<number>): Loop => ({
    label,
    n,
    async run(n) {
      let sum = 0;
      for (let i = 0; i < n; i += BATCH) {
        const batch: Promise<number>[] = [];
        for (let j = i; j < i + BATCH; j++) batch.push(call(j));
        for (const v of await Promise.all(batch)) sum += v;
      }
      return sum;
    },
  });
  return [
    oneAtATime("await fn()", 20_000, (i) => work(i)),
    oneAtATime("await scheduler.schedule(fn)", 20_000, (i) => scheduler.schedule(() => work(i))),
    oneAtATime("await bottleneck.schedule(fn)", 50, (i) => bottleneck.schedule(() => work(i))),
    atOnce(`${BATCH} at once: fn()`, 20_000, (i) => work(i)),
    atOnce(`${BATCH} at once: scheduler.schedule(fn)`, 20_000, (i) =>
      scheduler.schedule(() => work(i)),
    ),
    atOnce(`${BATCH} at once: bottleneck.schedule(fn)`, BATCH, (i) =>
      bottleneck.schedule(() => work(i)),
    ),
  ];
}

/** Median ns per call of each loop, interleaved round by round. */
async function measure(all: readonly Loop[]): Promise<Map<string, number>> {
  const samples = new Map<string, number[]>(all.map((l) => [l.label, []]));
  let checksum = 0;
  for (const l of all) checksum += await l.run(l.n); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < all.length; i++) {
      const l = all[(i + r) % all.length]!;
      const t0 = process.hrtime.bigint();
      checksum += await l.run(l.n);
      samples.get(l.label)!.push(Number(process.hrtime.bigint() - t0) / l.n);
    }
  }
  console.log(`  (checksum ${checksum})`);
  return new Map([...samples].map(([k, v]) => [k, median(v)]));
}

async function overhead(): Promise<SchedulerRow[]> {
  console.log("scheduler overhead, memory store, a limit that never binds (ns/call, median):");
  const ns = await measure(loops());
  for (const [label, v] of ns) console.log(`  ${label.padEnd(40)} ${v.toFixed(0)} ns`);
  const rows: SchedulerRow[] = [];
  for (const [prefix, direct] of [
    ["await ", "await fn()"],
    [`${BATCH} at once: `, `${BATCH} at once: fn()`],
  ] as const) {
    const base = ns.get(direct)!;
    const ours = ns.get(`${prefix}scheduler.schedule(fn)`)!;
    const theirs = ns.get(`${prefix}bottleneck.schedule(fn)`)!;
    const how = prefix === "await " ? "one at a time" : `${BATCH} at once`;
    rows.push(
      {
        name: `scheduler.schedule(fn) overhead, ${how}`,
        value: Math.round(ours - base),
        unit: "ns/call",
        note: `${Math.round(ours)} ns vs ${Math.round(base)} ns direct; bottleneck ${Math.round(theirs - base)} ns`,
      },
      {
        name: `bottleneck.schedule(fn) ÷ scheduler.schedule(fn), ${how}`,
        value: Math.round((theirs / ours) * 10) / 10,
        unit: "×",
        note: "time per call; bottleneck with no limits set still drains its queue on timers",
      },
    );
  }
  return rows;
}

const LIMIT = 50;
const VENDOR_WINDOW_MS = 1000;
const MARGIN_MS = 100;
const DURATION_MS = 5000;
const PROCESSES = 4;

/** The most of the sorted `times` in any half-open interval [t, t + span). */
function most(times: readonly number[], span: number): number {
  let best = 0;
  let from = 0;
  for (let i = 0; i < times.length; i++) {
    while (times[from]! <= times[i]! - span) from++;
    best = Math.max(best, i - from + 1);
  }
  return best;
}

async function fleet(): Promise<SchedulerRow[]> {
  console.log(`\nscheduler fleet: ${PROCESSES} processes, one Redis, "${LIMIT}/s" for 5 s:`);
  const redis = await startRedis();
  const starts: number[] = [];
  const arrivals: number[] = [];
  const server = createServer((req, res) => {
    const at = Date.now();
    const s = /[?&]s=(\d+)/.exec(req.url ?? "");
    if (s !== null && starts.length < 10_000) {
      starts.push(Number(s[1]));
      arrivals.push(at);
    }
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const worker = fileURLToPath(new URL("../test/functions/fleet-worker.ts", import.meta.url));
  const prefix = `bench-${process.pid}`;
  const args = [redis.port, port, DURATION_MS, VENDOR_WINDOW_MS + MARGIN_MS, prefix].map(String);
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < PROCESSES; i++) {
      children.push(
        fork(worker, args, {
          execArgv: ["--import", "tsx"],
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        }),
      );
    }
    const next = (child: ChildProcess, want: (m: unknown) => boolean) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("fleet worker did not answer")), 30_000);
        child.on("message", (m) => {
          if (!want(m)) return;
          clearTimeout(timer);
          resolve();
        });
      });
    await Promise.all(children.map((c) => next(c, (m) => m === "ready")));
    const done = children.map((c) => next(c, (m) => typeof m === "object" && m !== null));
    for (const c of children) c.send("go");
    await Promise.all(done);
  } finally {
    for (const c of children) if (c.pid !== undefined && c.exitCode === null) c.kill("SIGKILL");
    server.closeAllConnections();
    server.close();
    await redis.stop();
  }
  starts.sort((a, b) => a - b);
  arrivals.sort((a, b) => a - b);
  const allowed = LIMIT * (DURATION_MS / VENDOR_WINDOW_MS);
  // Steady state: the sliding log reuses each slot one period after it was last used.
  const periods: number[] = [];
  for (let i = 0; i + LIMIT < starts.length; i++) periods.push(starts[i + LIMIT]! - starts[i]!);
  const period = median(periods);
  const rows: SchedulerRow[] = [
    {
      name: "fleet: admitted per second over 5 s",
      value: Math.round((starts.length / (DURATION_MS / 1000)) * 10) / 10,
      unit: "/s",
      note: `${starts.length} of ${allowed} allowed (${Math.round((starts.length / allowed) * 1000) / 10}%), ${PROCESSES} processes`,
    },
    {
      name: "fleet: most job starts in any 1-s interval",
      value: most(starts, VENDOR_WINDOW_MS),
      unit: "starts",
      note: `limit ${LIMIT}; policy window ${VENDOR_WINDOW_MS + MARGIN_MS} ms`,
    },
    {
      name: "fleet: most arrivals in any 1-s interval",
      value: most(arrivals, VENDOR_WINDOW_MS),
      unit: "arrivals",
      note: "at the counting server: starts plus a varying delivery delay",
    },
    {
      name: "fleet: steady-state rate",
      value: Math.round((LIMIT / period) * 10_000) / 10,
      unit: "/s",
      note: `a slot is reused every ${period} ms (median): window ${VENDOR_WINDOW_MS + MARGIN_MS} ms + wake-up`,
    },
  ];
  for (const r of rows) console.log(`  ${r.name}: ${r.value} ${r.unit} (${r.note})`);
  return rows;
}

export async function benchScheduler(): Promise<SchedulerRow[]> {
  return [...(await overhead()), ...(await fleet())];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await benchScheduler();
  // ioredis sockets and the forked workers are gone; nothing should hold the loop.
  process.exit(0);
}
