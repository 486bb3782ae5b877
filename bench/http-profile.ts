/**
 * `npm run bench:http:profile [variant] [seconds]`: where a Fastify limiter's time goes, from
 * V8's sampling profiler.
 *
 * Starts one bench/http/server.ts variant, fastify-tk-memory (default) or fastify-floor, with
 * --cpu-prof, loads it as bench:http does, and reads the profile of the loaded period: the share
 * of busy samples with the limiter's hook on the stack (throttlekit's `throttlekit`, the floor's
 * `floor`), converted to µs per request with the server CPU measured beside it, and the functions
 * that hook's samples were spent in. (@fastify/rate-limit's hook is an anonymous async function
 * whose work resumes off its own stack, so its share cannot be read this way.)
 *
 * A share of samples is steadier than req/s on a VM whose speed swings, because a slow phase
 * slows every function alike. It is still a sample: the profiler itself slows the server (read
 * the µs as relative, not absolute), and time in the kernel is attributed to whatever JavaScript
 * called it (`writev` dominates), so compare hook shares between variants, not with bench:http.
 * Env: BENCH_PROFILE_INTERVAL (250 µs between samples), BENCH_CONNECTIONS, BENCH_KEYS.
 * Prints a table; writes nothing (the profile is deleted).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { envInt, load, startServer, stopServer } from "./http/harness.js";
import { FLOOR, type Variant } from "./http/server.js";

/** The hook functions whose inclusive time is the limiter's. */
const HOOKS = new Set(["throttlekit", "floor"]);
const VARIANTS: readonly Variant[] = ["fastify-tk-memory", FLOOR];
const WARMUP_S = 3;

type CallFrame = { functionName: string; url: string };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type Profile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };

function label(f: CallFrame): string {
  const where = f.url.replace(/^.*node_modules\//, "").replace(/^.*?\/(src|bench)\//, "$1/");
  return `${f.functionName || "(anonymous)"} ${where}`;
}

function parseArgs(): { variant: Variant; seconds: number } {
  const [v = "fastify-tk-memory", s = "20"] = process.argv.slice(2);
  if (!(VARIANTS as readonly string[]).includes(v))
    throw new Error(`variant: one of ${VARIANTS.join(", ")}`);
  const seconds = Number(s);
  if (!Number.isSafeInteger(seconds) || seconds < 1) throw new Error("seconds: a whole number ≥ 1");
  return { variant: v as Variant, seconds };
}

async function main(): Promise<void> {
  const { variant, seconds } = parseArgs();
  const interval = envInt("BENCH_PROFILE_INTERVAL", 250);
  const dir = mkdtempSync(join(tmpdir(), "tk-profile-"));
  try {
    const server = await startServer(variant, undefined, {}, [
      "--cpu-prof",
      `--cpu-prof-dir=${dir}`,
      `--cpu-prof-interval=${interval}`,
    ]);
    let run: Awaited<ReturnType<typeof load>>;
    try {
      await load(server.port, WARMUP_S);
      run = await load(server.port, seconds, server.child.pid);
    } finally {
      await stopServer(server); // the profile is written as the process exits
    }
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (file === undefined) throw new Error("no profile written");
    report(variant, seconds, run, JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(
  variant: Variant,
  seconds: number,
  run: Awaited<ReturnType<typeof load>>,
  profile: Profile,
): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Only the measured load: the samples of its last `seconds` (the server exits right after).
  const at: number[] = [];
  let t = 0;
  for (const d of profile.timeDeltas) {
    t += d;
    at.push(t);
  }
  const from = t - seconds * 1e6;
  let busy = 0;
  let inHook = 0;
  const spent = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    if (at[i]! < from) continue;
    const leaf = byId.get(profile.samples[i]!)!;
    if (leaf.callFrame.functionName === "(idle)") continue;
    busy++;
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      if (!HOOKS.has(byId.get(id)!.callFrame.functionName)) continue;
      inHook++;
      const k = label(leaf.callFrame);
      spent.set(k, (spent.get(k) ?? 0) + 1);
      break;
    }
  }
  if (busy === 0 || run.cpuUs === undefined) throw new Error("no busy samples or no CPU reading");
  const share = inHook / busy;
  console.log(
    `${variant}: ${Math.round(run.rps)} req/s, ${run.cpuUs.toFixed(1)} µs server CPU/req under the profiler; ` +
      `${busy} busy samples, limiter hook on the stack in ${(share * 100).toFixed(2)}% ` +
      `(≈ ${(share * run.cpuUs).toFixed(2)} µs/req)`,
  );
  if (inHook === 0) return;
  console.log("\n| where the hook's samples were spent | share of the hook |\n|---|--:|");
  for (const [k, n] of [...spent].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.log(`| ${k} | ${((n / inHook) * 100).toFixed(1)}% |`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
