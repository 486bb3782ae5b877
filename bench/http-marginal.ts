/**
 * `npm run bench:http:marginal`: what each Fastify limiter adds to a hello-world request,
 * measured inside one server process.
 *
 * bench:http compares separate processes, and on this 2-core VM two processes running the very
 * same code differ by up to 10% in req/s (heap layout, JIT timing, scheduling): enough to hide
 * a few percent between limiters. Here each server (bench/http/server.ts with
 * BENCH_SWITCH=1) wraps its limiter's hooks in a switch that SIGUSR1 flips. Every round
 * measures the same process with the limiter ON and OFF (the order alternating between
 * rounds), and reports OFF-µs ÷ ON-µs of server CPU per request: the share of a bare request's
 * capacity that remains with the limiter, with the process's own luck cancelled out.
 *
 * Variants: throttlekit and @fastify/rate-limit on their memory stores, each with its default
 * headers and with headers turned off, so the header fields' own cost shows separately; and
 * the floor (bench/http/server.ts FLOOR): a Map counter with two constant header fields, the
 * least any limiter that sends two fields can cost.
 * Env: BENCH_ROUNDS (10), BENCH_DURATION (2 s), BENCH_CONNECTIONS, BENCH_KEYS.
 * Prints a table; writes nothing.
 */
import { envInt, load, median, type Server, startServer, stopServer } from "./http/harness.js";
import { FLOOR, type Variant } from "./http/server.js";

const ROUNDS = envInt("BENCH_ROUNDS", 10);
const DURATION = envInt("BENCH_DURATION", 2);
/** Lets a signal reach the server and its switch flip before the next phase starts. */
const SETTLE_MS = 50;

const SUBJECTS: readonly { label: string; variant: Variant; headers: boolean }[] = [
  { label: "throttlekit memory", variant: "fastify-tk-memory", headers: true },
  { label: "@fastify/rate-limit memory", variant: "fastify-peer-memory", headers: true },
  { label: "throttlekit memory, headers: false", variant: "fastify-tk-memory", headers: false },
  {
    label: "@fastify/rate-limit memory, no headers",
    variant: "fastify-peer-memory",
    headers: false,
  },
  { label: "floor: Map counter + 2 constant header fields", variant: FLOOR, headers: true },
];

type Phase = { us: number; rps: number };

async function phase(s: Server): Promise<Phase> {
  const r = await load(s.port, DURATION, s.child.pid);
  if (r.bad > 0 || r.errors > 0 || r.cpuUs === undefined) {
    throw new Error(`${s.variant}: ${r.bad} non-2xx, ${r.errors} errors, cpu ${r.cpuUs}`);
  }
  return { us: r.cpuUs, rps: r.rps };
}

async function flip(s: Server): Promise<void> {
  s.child.kill("SIGUSR1");
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
}

async function main(): Promise<void> {
  const servers: Server[] = [];
  try {
    for (const x of SUBJECTS) {
      const env: Record<string, string> = { BENCH_SWITCH: "1" };
      if (!x.headers) env.BENCH_NO_HEADERS = "1";
      servers.push(await startServer(x.variant, undefined, env));
    }
    console.log(
      `${servers.length} servers (limiter ON at start); ${ROUNDS} rounds × ON and OFF phases of ${DURATION} s`,
    );
    for (const s of servers) {
      // Warm both states.
      await phase(s);
      await flip(s);
      await phase(s);
      await flip(s);
    }
    const capacity: number[][] = SUBJECTS.map(() => []);
    const rps: number[][] = SUBJECTS.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < servers.length; i++) {
        const s = servers[i]!;
        let on: Phase;
        let off: Phase;
        if (round % 2 === 0) {
          on = await phase(s);
          await flip(s);
          off = await phase(s);
          await flip(s);
        } else {
          await flip(s);
          off = await phase(s);
          await flip(s);
          on = await phase(s);
        }
        capacity[i]!.push(off.us / on.us);
        rps[i]!.push(on.rps / off.rps);
        console.log(
          `round ${round + 1} ${SUBJECTS[i]!.label.padEnd(40)} ON ${on.us.toFixed(2)} µs, OFF ${off.us.toFixed(2)} µs per request`,
        );
      }
    }
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    console.log("\n| limiter (Fastify 5) | capacity kept, CPU (median) | req/s kept (median) |");
    console.log("|---|--:|--:|");
    SUBJECTS.forEach((x, i) => {
      console.log(`| ${x.label} | ${pct(median(capacity[i]!))} | ${pct(median(rps[i]!))} |`);
    });
  } finally {
    for (const s of servers) await stopServer(s);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
