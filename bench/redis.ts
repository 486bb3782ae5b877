/**
 * `npm run bench:redis`: throttlekit's Redis store against rate-limiter-flexible's
 * RateLimiterRedis, both on ioredis, one process, 1000 decisions in flight, against a
 * redis-server this script starts on a free loopback port (and kills at the end).
 *
 * Cases: one policy over 10k keys (nothing rejected); a composite of 3 policies; an attack where
 * 90% of the traffic comes from keys already over their limit, counting the commands Redis
 * received per decision (INFO commandstats: EVALSHA + EVAL, i.e. script runs, not the commands
 * scripts issue inside). A bare one-line Lua script via ioredis calibrates the machine.
 * Contenders are interleaved round by round; the median round is reported.
 * Env: BENCH_ROUNDS (default 5), BENCH_CALLS (decisions per round, default 100000).
 * Writes bench/results/redis.json.
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { ALGORITHMS, createLimiter, type PolicyInput } from "../src/index.js";
import { type RedisStore, redisStore } from "../src/stores/redis/index.js";
import { startRedis } from "../test/support/redis-server.js";

const INFLIGHT = 1000;
const KEYS = 10_000;
const ROUNDS = envInt("BENCH_ROUNDS", 5);
const CALLS = envInt("BENCH_CALLS", 100_000);
/** Limits nobody reaches in a run: the throughput cases measure admitted traffic. */
const BIG = 1_000_000_000;

function envInt(name: string, fallback: number): number {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}: expected a whole number ≥ 1`);
  return n;
}

type Consume = (key: string) => Promise<boolean>;
type Contender = {
  id: string;
  label: string;
  consume: Consume;
  keys: readonly string[];
  /** throttlekit's store, for its local-cache counter. */
  store?: RedisStore;
};
type Run = { ms: number; allowed: number; rejected: number };

/** `n` decisions with INFLIGHT loops in flight, walking `keys` round-robin from `from`. */
async function drive(
  consume: Consume,
  keys: readonly string[],
  from: number,
  n: number,
): Promise<Run> {
  let next = 0;
  let allowed = 0;
  let rejected = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      while (next < n) {
        const i = next++;
        if (await consume(keys[(from + i) % keys.length]!)) allowed++;
        else rejected++;
      }
    }),
  );
  return { ms: performance.now() - t0, allowed, rejected };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Script runs Redis has served so far, and the µs it spent in them (INFO commandstats). */
async function scriptCalls(admin: Redis): Promise<{ calls: number; usec: number }> {
  const info = await admin.info("commandstats");
  let calls = 0;
  let usec = 0;
  for (const m of info.matchAll(/^cmdstat_(evalsha|eval):calls=(\d+),usec=(\d+)/gm)) {
    calls += Number(m[2]);
    usec += Number(m[3]);
  }
  return { calls, usec };
}

const server = await startRedis();
const admin = new Redis(server.port, server.host);
const rlfClient = new Redis(server.port, server.host);
const tkClient = new Redis(server.port, server.host);
const bareClient = new Redis(server.port, server.host);
const normalKeys = Array.from({ length: KEYS }, (_, i) => `user:${i}`);

function throttlekit(
  id: string,
  label: string,
  policies: PolicyInput | PolicyInput[],
  prefix: string,
  options: { maxBatch?: number } = {},
) {
  const store = redisStore({ client: tkClient, ...options });
  const limiter = createLimiter({ policies, store, prefix });
  const consume: Consume = async (key) => (await limiter.consume(key)).allowed;
  return { id, label, consume, keys: normalKeys, store, limiter };
}

function rlf(id: string, label: string, points: number, keyPrefix: string, keys = normalKeys) {
  const limiter = new RateLimiterRedis({
    storeClient: rlfClient,
    points,
    duration: 3600,
    keyPrefix,
  });
  const consume: Consume = (key) =>
    limiter.consume(key).then(
      () => true,
      (res: unknown) => {
        if (res instanceof Error) throw res;
        return false;
      },
    );
  return { id, label, consume, keys };
}

const bareSha = (await admin.script("LOAD", "return 1")) as string;
const bare: Contender = {
  id: "bare-lua",
  label: "bare one-line Lua via ioredis (EVALSHA)",
  consume: async (key) => (await bareClient.evalsha(bareSha, 1, key)) === 1,
  keys: normalKeys,
};

const single = throttlekit(
  "throttlekit",
  "throttlekit redisStore, 1 policy (sliding-window)",
  { limit: BIG, window: "1h" },
  "tk1",
);
const composite = throttlekit(
  "throttlekit-3",
  "throttlekit redisStore, 3 policies",
  [
    { limit: BIG, window: "1s", algorithm: "fixed-window" },
    { limit: BIG, window: "1m" },
    { limit: BIG, window: "1h", algorithm: "gcra" },
  ],
  "tk3",
);
const rlfSingle = rlf("rlf", "rate-limiter-flexible RateLimiterRedis", BIG, "rlf1");

// The attack: 1000 attacker keys already over a 100/h limit make 90% of the traffic.
const ATTACK_LIMIT = 100;
const attackers = Array.from({ length: 1000 }, (_, i) => `attacker:${i}`);
const attackKeys = Array.from({ length: 100_000 }, (_, i) =>
  i % 10 === 0 ? normalKeys[(i / 10) % KEYS]! : attackers[i % attackers.length]!,
);
const tkAttack = throttlekit(
  "throttlekit-attack",
  "throttlekit under attack",
  `${ATTACK_LIMIT}/h`,
  "tka",
);
tkAttack.keys = attackKeys;
// The same attack with one decision per EVALSHA: what the local cache alone saves.
const tkAttackUnbatched = throttlekit(
  "throttlekit-attack-unbatched",
  "throttlekit under attack, maxBatch 1 (cache alone)",
  `${ATTACK_LIMIT}/h`,
  "tkb",
  { maxBatch: 1 },
);
tkAttackUnbatched.keys = attackKeys;
const rlfAttack = rlf(
  "rlf-attack",
  "rate-limiter-flexible under attack",
  ATTACK_LIMIT,
  "rlfa",
  attackKeys,
);
for (const c of [tkAttack, tkAttackUnbatched, rlfAttack]) {
  await drive(c.consume, attackers, 0, attackers.length * (ATTACK_LIMIT + 1));
}

const throughput: Contender[] = [bare, rlfSingle, single, composite];
const attack: Contender[] = [rlfAttack, tkAttack, tkAttackUnbatched];
const results = new Map<
  string,
  {
    opsPerSec: number[];
    callsPerDecision: number[];
    rejected: number[];
    localShare: number[];
    redisUs: number[];
  }
>();
const cursor = new Map<string, number>();

for (const c of [...throughput, ...attack]) {
  results.set(c.id, {
    opsPerSec: [],
    callsPerDecision: [],
    rejected: [],
    localShare: [],
    redisUs: [],
  });
  await drive(c.consume, c.keys, 0, Math.min(CALLS, 20_000)); // warm-up
  cursor.set(c.id, 20_000);
}
for (let round = 0; round < ROUNDS; round++) {
  for (const c of [...throughput, ...attack]) {
    const from = cursor.get(c.id)!;
    const before = await scriptCalls(admin);
    const hitsBefore = c.store?.stats.localHits ?? 0;
    const run = await drive(c.consume, c.keys, from, CALLS);
    const after = await scriptCalls(admin);
    const calls = after.calls - before.calls;
    const hits = (c.store?.stats.localHits ?? 0) - hitsBefore;
    cursor.set(c.id, from + CALLS);
    const r = results.get(c.id)!;
    r.opsPerSec.push((CALLS / run.ms) * 1000);
    r.callsPerDecision.push(calls / CALLS);
    r.rejected.push(run.rejected);
    r.localShare.push(hits / CALLS);
    r.redisUs.push((after.usec - before.usec) / CALLS);
    const expectRejections = attack.includes(c);
    if (!expectRejections && run.rejected !== 0)
      throw new Error(`${c.id}: ${run.rejected} rejected`);
  }
  process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
}

const figure = (id: string) => {
  const r = results.get(id)!;
  return {
    opsPerSec: Math.round(median(r.opsPerSec)),
    best: Math.round(Math.max(...r.opsPerSec)),
    rounds: r.opsPerSec.map(Math.round),
    redisCallsPerDecision: Number(median(r.callsPerDecision).toFixed(4)),
    rejectedPerRound: Math.round(median(r.rejected)),
    answeredLocally: Number(median(r.localShare).toFixed(4)),
    /** Redis CPU per decision inside scripts: where the time goes when Redis is the limit. */
    redisMicrosPerDecision: Number(median(r.redisUs).toFixed(2)),
  };
};
const figures = Object.fromEntries([...throughput, ...attack].map((c) => [c.id, figure(c.id)]));
const rlfOps = figures.rlf!.opsPerSec;
const targets = [
  {
    target: "throttlekit ≥ 2× RLF (decisions/s)",
    ratio: figures.throttlekit!.opsPerSec / rlfOps,
    need: 2,
  },
  {
    target: "3-policy composite ≥ 1.5× RLF's single policy",
    ratio: figures["throttlekit-3"]!.opsPerSec / rlfOps,
    need: 1.5,
  },
  {
    target: "attack: decisions per Redis call ≥ 5",
    ratio: 1 / Math.max(figures["throttlekit-attack"]!.redisCallsPerDecision, 1e-9),
    need: 5,
  },
  {
    target: "attack, local cache alone (maxBatch 1): decisions per Redis call ≥ 5",
    ratio: 1 / Math.max(figures["throttlekit-attack-unbatched"]!.redisCallsPerDecision, 1e-9),
    need: 5,
  },
].map((t) => ({ ...t, ratio: Number(t.ratio.toFixed(2)), met: t.ratio >= t.need }));

const labels = new Map([...throughput, ...attack].map((c) => [c.id, c.label]));
const rows = Object.entries(figures).map(([id, f]) => [
  labels.get(id)!,
  f.opsPerSec.toLocaleString("en-US"),
  `${(f.opsPerSec / rlfOps).toFixed(2)}×`,
  String(f.redisCallsPerDecision),
  String(f.rejectedPerRound),
  `${(f.answeredLocally * 100).toFixed(1)}%`,
  f.redisMicrosPerDecision.toFixed(2),
]);
printTable(
  [
    "case",
    "decisions/s (median)",
    "vs RLF",
    "Redis calls/decision",
    "rejected/round",
    "local",
    "Redis µs/decision",
  ],
  rows,
);
printTable(
  ["target", "measured", "needed", "met"],
  targets.map((t) => [t.target, `${t.ratio}×`, `${t.need}×`, t.met ? "yes" : "NO"]),
);

// Redis memory per key: one record per limiter and user key (MEMORY USAGE, key name included).
const memory: Record<string, number> = {};
const memoryStoreFor = redisStore({ client: tkClient, localCache: false });
const memoryCases: [string, PolicyInput | PolicyInput[], number][] = [
  ...ALGORITHMS.map((a): [string, PolicyInput, number] => [
    a,
    { limit: 100, window: "1m", algorithm: a },
    1,
  ]),
  ["sliding-log, 100 entries", { limit: 100, window: "1m", algorithm: "sliding-log" }, 100],
  [
    "3 policies (fixed-window, sliding-window, gcra)",
    [
      { limit: 10, window: "1s", algorithm: "fixed-window" },
      { limit: 100, window: "1m" },
      { limit: 1000, window: "1h", algorithm: "gcra" },
    ],
    1,
  ],
];
for (const [name, policies, hits] of memoryCases) {
  const limiter = createLimiter({ policies, store: memoryStoreFor, prefix: "rl" });
  const clock = { t: 1_700_000_000_000 };
  const timed = createLimiter({
    policies,
    store: memoryStoreFor,
    prefix: "rl",
    clock: () => clock.t,
  });
  for (let i = 0; i < hits; i++) {
    clock.t += 7; // distinct milliseconds: a sliding log keeps one entry per ms
    await (hits > 1 ? timed : limiter).consume("user:1234567");
  }
  const [key] = await admin.keys("rl:{user:1234567}:*");
  memory[name] = Number(await admin.call("MEMORY", "USAGE", key!, "SAMPLES", "0"));
  await admin.del(key!);
}
printTable(
  ['record (key "rl:{user:1234567}:<policy ids>")', "bytes (MEMORY USAGE)"],
  Object.entries(memory).map(([k, v]) => [k, String(v)]),
);

const redisVersion = /redis_version:(\S+)/.exec(await admin.info("server"))?.[1];
writeFileSync(
  new URL("./results/redis.json", import.meta.url),
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg() },
      node: process.version,
      redis: redisVersion,
      plan: { inflight: INFLIGHT, keys: KEYS, rounds: ROUNDS, callsPerRound: CALLS },
      figures,
      targets,
      memoryBytesPerKey: memory,
    },
    null,
    2,
  )}\n`,
);

for (const c of [admin, rlfClient, tkClient, bareClient]) c.disconnect();
await server.stop();

function printTable(head: string[], body: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(`\n${line(head)}\n|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of body) console.log(line(r));
}
