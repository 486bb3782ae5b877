/**
 * bench:operate's report: per-mode figures, ratios taken within each round (median and range
 * over rounds), a verdict per pair that says when the machine's noise is wider than the
 * difference, the in-process figures, and the checks that make a run invalid.
 */
import { execSync } from "node:child_process";
import os from "node:os";
import { median } from "../http/harness.js";
import type { Phase, SnapshotCost } from "./load.js";
import { type MicroResult, RULE_COUNTS } from "./micro.js";
import type { Mode } from "./server.js";

export type PhaseRecord = Phase & {
  mode: Mode;
  round?: number;
  snapshots?: number;
  fleetRequests?: number;
  edits?: number;
  reloads?: number;
  rejected?: number;
};

export type Meta = { seconds: number; loadAtStart: number; settings: Record<string, number> };

const LABELS: Record<Mode, string> = {
  bare: "1. bare node:http (no limiter)",
  limiter: "2. limiter from loadConfig (Redis)",
  metrics: "3. 2 + fleet metrics into Redis",
  dashboard: "4. 3 + dashboard, one live client",
  reload: "5. 3 + watchConfig, an edit every 500 ms",
  "bare-again": "bare again (A/A: the noise)",
};

/** Each mode against bare, then against the mode it adds to. */
const PAIRS: readonly [Mode, Mode][] = [
  ["limiter", "bare"],
  ["metrics", "bare"],
  ["dashboard", "bare"],
  ["reload", "bare"],
  ["bare-again", "bare"],
  ["metrics", "limiter"],
  ["dashboard", "metrics"],
  ["reload", "metrics"],
];

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const round2 = (x: number) => Math.round(x * 100) / 100;
const range = (xs: number[]) => `${pct(Math.min(...xs))} – ${pct(Math.max(...xs))}`;

export function report(
  records: PhaseRecord[],
  warmups: PhaseRecord[],
  inProcess: MicroResult,
  snapshot: SnapshotCost,
  meta: Meta,
): { markdown: string; failures: string[] } {
  const byMode = (mode: Mode) =>
    records.filter((r) => r.mode === mode).sort((a, b) => (a.round ?? 0) - (b.round ?? 0));
  const modes = [...new Set(records.map((r) => r.mode))];
  const sum = (rs: PhaseRecord[], f: (r: PhaseRecord) => number | undefined) =>
    rs.reduce((a, r) => a + (f(r) ?? 0), 0);

  const lines: string[] = [];
  lines.push(
    "| mode | req/s (median) | server µs CPU/req (median) | redis-server µs CPU/req | req/s per round |",
  );
  lines.push("|---|---:|---:|---:|---|");
  for (const m of modes) {
    const rs = byMode(m);
    lines.push(
      `| ${LABELS[m]} | ${Math.round(median(rs.map((r) => r.rps)))} | ${round2(median(rs.map((r) => r.cpuUs)))} | ${round2(median(rs.map((r) => r.redisCpuUs)))} | ${rs.map((r) => Math.round(r.rps)).join(", ")} |`,
    );
  }
  lines.push("");
  lines.push(
    "Every answer, by status (timed rounds; the warm-ups were checked the same way), and what each mode's extra did:",
  );
  lines.push("");
  lines.push("| mode | 200 | 429 | other | socket errors | the mode's extra |");
  lines.push("|---|---:|---:|---:|---:|---|");
  for (const m of modes) {
    const rs = byMode(m);
    let extra = "";
    if (m === "dashboard") {
      extra = `${sum(rs, (r) => r.snapshots)} snapshots pushed to the live client over ${rs.length} phases; the fleet counted ${Math.min(...rs.map((r) => r.fleetRequests ?? 0)).toLocaleString("en")}–${Math.max(...rs.map((r) => r.fleetRequests ?? 0)).toLocaleString("en")} requests in the window of the last one`;
    } else if (m === "reload") {
      extra = `${sum(rs, (r) => r.edits)} edits, ${sum(rs, (r) => r.reloads)} reloads put in force, ${sum(rs, (r) => r.rejected)} refused`;
    }
    lines.push(
      `| ${LABELS[m]} | ${sum(rs, (r) => r.ok)} | ${sum(rs, (r) => r.limited)} | ${sum(rs, (r) => r.other)} | ${sum(rs, (r) => r.errors)} | ${extra} |`,
    );
  }

  // Per round: the ratio of two modes measured in the same round, then the median over rounds.
  const pairs = PAIRS.filter(([a, b]) => modes.includes(a) && modes.includes(b)).map(
    ([mode, base]) => {
      const a = byMode(mode);
      const b = byMode(base);
      const rps = a.map((r, i) => r.rps / b[i]!.rps);
      const cpu = a.map((r, i) => b[i]!.cpuUs / r.cpuUs);
      const added = a.map((r, i) => r.cpuUs - b[i]!.cpuUs);
      return { mode, base, rps, cpu, added: round2(median(added)) };
    },
  );
  lines.push("");
  lines.push(
    "| compared | req/s ratio (median of rounds) | range | CPU capacity ratio (median) | range | server CPU µs added per request (median) |",
  );
  lines.push("|---|---:|---|---:|---|---:|");
  for (const p of pairs) {
    lines.push(
      `| ${LABELS[p.mode]} vs ${LABELS[p.base]} | ${pct(median(p.rps))} | ${range(p.rps)} | ${pct(median(p.cpu))} | ${range(p.cpu)} | ${p.added} |`,
    );
  }
  // A difference is resolved when every round agrees on its direction (the range excludes
  // 100%; with 8 rounds, a coin would do that 2 times in 256). Otherwise the spread is wider
  // than the difference and the median is not a finding.
  const verdict = (xs: number[]) => {
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    if (hi < 1) return `resolved, ${pct(median(xs))} kept (every round below 100%: ${range(xs)})`;
    if (lo > 1) return `above 100% in every round (${range(xs)})`;
    return `not resolved, rounds spread ${range(xs)}: wider than the difference (median ${pct(median(xs))})`;
  };
  lines.push("");
  lines.push("Per pair (CPU capacity first, the steadier measure; then req/s):");
  lines.push("");
  for (const p of pairs) {
    lines.push(
      `- ${LABELS[p.mode]} vs ${LABELS[p.base]}: CPU ${verdict(p.cpu)}; req/s ${verdict(p.rps)}.`,
    );
  }
  lines.push("");
  lines.push(
    `In process (no HTTP, memory store), µs per call, ${meta.settings.microCalls} timed calls each, the two sizes interleaved; each reload alternates between two versions of the file (one rule's policy changed):`,
  );
  lines.push("");
  lines.push("| file | bytes | `parseConfig` median (p10 – p90) | `reload()` median (p10 – p90) |");
  lines.push("|---|---:|---:|---:|");
  for (const n of RULE_COUNTS) {
    const r = inProcess[n];
    lines.push(
      `| ${n} rules | ${r.bytes.toLocaleString("en")} | ${r.parse.medianUs} (${r.parse.p10Us} – ${r.parse.p90Us}) | ${r.reload.medianUs} (${r.reload.p10Us} – ${r.reload.p90Us}) |`,
    );
  }

  lines.push("");
  const rps = median(byMode("dashboard").map((r) => r.rps));
  lines.push(
    `One dashboard snapshot on the idle server (\`GET /api/snapshot\`, the live stream's work each second: every second of the 1-min window read from Redis, the lists, the JSON), ${snapshot.count} calls: median ${snapshot.medianMs} ms wall, ${snapshot.cpuUs} µs of server CPU each (/proc, 10 ms ticks over all calls), ${snapshot.bytes.toLocaleString("en")} bytes. Once a second at the dashboard mode's median ${Math.round(rps).toLocaleString("en")} req/s, that is ${round2(snapshot.cpuUs / rps)} µs per request.`,
  );

  const failures: string[] = [];
  for (const r of [...warmups, ...records]) {
    const where = `${r.mode} ${r.round === undefined ? "warm-up" : `round ${r.round + 1}`}`;
    if (r.other > 0) failures.push(`${where}: ${r.other} answers neither 200 nor 429`);
    if (r.errors > 0) failures.push(`${where}: ${r.errors} socket errors or timeouts`);
    if (r.rejected !== undefined && r.rejected > 0)
      failures.push(`${where}: ${r.rejected} reloads refused`);
    if (r.reloads !== undefined && r.reloads === 0) failures.push(`${where}: no reload happened`);
    if (r.snapshots !== undefined && r.snapshots === 0)
      failures.push(`${where}: the live client received no snapshot`);
  }
  const limited = sum([...warmups, ...records], (r) => r.limited);

  const table = lines.join("\n");
  return { markdown: markdown(table, meta, limited, failures), failures };
}

function markdown(table: string, meta: Meta, limited: number, failures: string[]): string {
  let commit = "unknown";
  let dirty: string[] = [];
  try {
    commit = execSync("git rev-parse --short HEAD", { encoding: "utf8" }).trim();
    dirty = execSync(
      "git status --porcelain -- src/config src/dashboard src/core/metrics src/http src/adapters/node.ts bench/operate bench/operate.ts",
      { encoding: "utf8" },
    )
      .split("\n")
      .filter(Boolean)
      .map((l) => l.slice(3));
  } catch {}
  const cpus = os.cpus();
  const machine = `${cpus.length} × ${cpus[0]?.model ?? "?"}, ${os.platform()}`;
  const loadAtEnd = os.loadavg()[0]!;
  return `# bench:operate (issue 18)

What throttlekit/config, fleet metrics and throttlekit/dashboard cost a server that runs them,
against bare node:http in the same run: \`npm run bench:operate\` (bench/operate.ts), ${new Date().toISOString()},
Node ${process.version}, commit ${commit}${dirty.length > 0 ? ` with local changes in ${dirty.join(", ")}` : ""}, ${machine},
load average ${meta.loadAtStart.toFixed(1)} at the start and ${loadAtEnd.toFixed(1)} at the end of a ${meta.seconds} s run.
Settings: ${JSON.stringify(meta.settings)}.
${failures.length > 0 ? `\n**INVALID RUN:**\n\n${failures.map((f) => `- ${f}`).join("\n")}\n` : ""}
One node:http hello-world server process on 127.0.0.1, switched between modes over IPC so every
mode runs in the same process, with throttlekit/node limiters on a redis-server the bench started.
The limiters' options come from \`loadConfig\` of a small throttlekit.yaml (four rules, an
\`x-api-key\` identity, limits nothing reaches, the store failing closed); half the requests hit
the \`/api/**\` rule, half the catch-all, over ${meta.settings.keys} keys. The dashboard mode mounts
\`throttlekit/dashboard\` in front of the limiter and holds one server-sent events stream on
\`/api/events\` open (one snapshot a second: every second of its 1-min window read from Redis). The
reload mode runs \`watchConfig\` on the file while this process renames a new version over it every
${meta.settings.editEveryMs} ms (the api rule's policy toggled), each edit passed to \`limiter.reload()\`.
Rounds interleave the modes, the starting one rotating; ratios are taken within each round and
the median over rounds is reported with the range. "CPU capacity ratio" is the base mode's
server CPU µs per request over this mode's (higher is better; 100% = free).

${table}

${limited > 0 ? `**${limited} answers were 429**: limits are out of reach, so each is a decision the store did not answer in time (it fails closed). Not an error of the limiter, but the load saw refusals.` : "No answer was a 429: the store answered every decision."}

## What these figures can claim

- The machine is a shared 2-core VM on which other sessions run tests (the load average is
  above); a load generator, a server and redis-server share those 2 cores. Absolute req/s move
  with the neighbours; only ratios within a round are compared, and a pair is called resolved
  only when every round agrees on the direction. The A/A pair (bare against bare) shows how far
  two identical phases of one round differ on this run.
- Server CPU µs per request includes everything the process did during the phase: the fleet
  flush (one script run a second), the dashboard's per-second read of its window and the JSON
  it pushes, the watcher's read, parse and reload of each edit. Those are per-second costs
  spread over the requests of that second: at a lower request rate each request carries more
  of them. redis-server's CPU is reported beside it (the flushes and the dashboard's reads land
  there).
- The limiter against bare on Redis is not the limiter's cost alone: while a request waits for
  Redis the server batches others (bench:http saw Fastify + throttlekit on Redis use less CPU
  per request than bare Fastify), so read that pair with that in mind.
- The in-process figures are what one edit costs the process that takes it, without HTTP: a
  watcher runs \`parseConfig\` and then \`reload()\` once per saved edit, not per request.
`;
}
