/**
 * What penalties cost on the memory store (issue 17 item 5): consumeSync and consume of allowed
 * requests with no penalty, with an escalating blockFor, and with a ban (which must cost an
 * allowed request nothing but a field check), plus refusals that escalate and refusals a ban
 * counts. Interleaved rounds, best of each, so machine noise hits every variant alike.
 * Run: `node --import tsx bench/penalties.ts` (figures go to bench/results/penalties.md).
 */
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { createLimiter, memoryStore } from "../src/index.js";

const N = 200_000;
const ROUNDS = 7;
const KEYS = Array.from({ length: 1000 }, (_, i) => `user:${i}`);
const ROOMY = { limit: 1_000_000_000, window: "1h", algorithm: "fixed-window" } as const;

function limiter(kind: "plain" | "escalating" | "ban") {
  return createLimiter({
    store: memoryStore({ logger: false }),
    policies:
      kind === "escalating" ? { ...ROOMY, blockFor: { base: "1m", factor: 2, max: "1d" } } : ROOMY,
    ...(kind === "ban" ? { ban: { after: 5, within: "1h", duration: "1d" } } : {}),
    logger: false,
  });
}

type Case = { name: string; run: () => Promise<void> | void };

function syncCase(name: string, kind: "plain" | "escalating" | "ban"): Case {
  const l = limiter(kind);
  return {
    name,
    run: () => {
      for (let i = 0; i < N; i++) l.consumeSync(KEYS[i % 1000]!);
    },
  };
}

function asyncCase(name: string, kind: "plain" | "escalating" | "ban"): Case {
  const l = limiter(kind);
  return {
    name,
    run: async () => {
      for (let i = 0; i < N; i++) await l.consume(KEYS[i % 1000]!);
    },
  };
}

/** Refusals: every request of a key over a 1-request limit, on a fresh key every 50. */
function refusalCase(name: string, kind: "plain" | "escalating" | "ban"): Case {
  let round = 0;
  return {
    name,
    run: () => {
      const l = createLimiter({
        store: memoryStore({ logger: false }),
        policies: {
          limit: 1,
          window: "1h",
          algorithm: "fixed-window",
          ...(kind === "escalating" ? { blockFor: { base: 1, factor: 1 } } : {}),
        },
        ...(kind === "ban" ? { ban: { after: 1000, within: "1h", duration: "1d" } } : {}),
        logger: false,
      });
      round++;
      for (let i = 0; i < N; i++) l.consumeSync(`k${round}:${Math.floor(i / 50)}`);
    },
  };
}

const cases: Case[] = [
  syncCase("consumeSync allowed, no penalty", "plain"),
  syncCase("consumeSync allowed, escalating blockFor", "escalating"),
  syncCase("consumeSync allowed, ban", "ban"),
  asyncCase("consume allowed, no penalty", "plain"),
  asyncCase("consume allowed, ban", "ban"),
  refusalCase("consumeSync refused, no penalty", "plain"),
  refusalCase("consumeSync refused, ban counting", "ban"),
];

const best = new Map<string, number>();
for (let r = 0; r < ROUNDS; r++) {
  for (const c of cases) {
    const start = performance.now();
    await c.run();
    const ns = ((performance.now() - start) * 1e6) / N;
    best.set(c.name, Math.min(best.get(c.name) ?? Number.POSITIVE_INFINITY, ns));
  }
}
const lines = [
  "# bench: penalties (memory store)",
  "",
  `Best of ${ROUNDS} interleaved rounds of ${N} decisions (ns per decision), ${new Date().toISOString()}, Node ${process.version}, load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores.`,
  "",
  "A ban costs an allowed request nothing measurable (the count is touched only on refusals);",
  "a refusal a ban counts costs one more decision on the count's binding (a sliding log).",
  "",
  "| case | ns / decision |",
  "|---|---|",
  ...cases.map((c) => `| ${c.name} | ${best.get(c.name)!.toFixed(0)} |`),
  "",
];
console.log(lines.join("\n"));
writeFileSync(new URL("results/penalties.md", import.meta.url), lines.join("\n"));
