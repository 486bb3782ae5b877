/**
 * bench:operate's in-process figures: what one hot reload costs the process that takes it, for
 * files of 10 and 100 rules. `parseConfig` (read, interpolate, validate, and the check
 * createHttpLimiter makes) and `limiter.reload()` (build the new engine aside and swap it in)
 * are timed call by call, the two sizes interleaved; each reload alternates between the two
 * versions of the file, so every call puts a real change in force. The memory store: reload
 * does no I/O, so the store does not enter the figure.
 */
import { performance } from "node:perf_hooks";
import { memoryStore } from "throttlekit";
import { parseConfig } from "throttlekit/config";
import { createHttpLimiter } from "throttlekit/http";
import { median } from "../http/harness.js";
import { manyRules } from "./config-files.js";

export const RULE_COUNTS = [10, 100] as const;

export type Timing = { medianUs: number; p10Us: number; p90Us: number; samples: number };
export type MicroResult = Record<
  (typeof RULE_COUNTS)[number],
  { parse: Timing; reload: Timing; bytes: number }
>;

function timing(us: number[]): Timing {
  const s = [...us].sort((a, b) => a - b);
  const at = (q: number) => round1(s[Math.min(s.length - 1, Math.floor(q * s.length))]!);
  return { medianUs: round1(median(s)), p10Us: at(0.1), p90Us: at(0.9), samples: s.length };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** `calls` timed calls of each kind per size, after `calls / 10` untimed ones. */
export function micro(calls: number): MicroResult {
  const store = memoryStore();
  const sizes = RULE_COUNTS.map((n) => {
    const texts = [manyRules(n, false), manyRules(n, true)] as const;
    const file = `rules-${n}.yaml`;
    const limiter = createHttpLimiter({ ...parseConfig(texts[0], { file, store }).http });
    // Parsed once per version beforehand: the reload figure is reload() alone.
    const parsed = texts.map((t) => parseConfig(t, { file, store }).http);
    return { n, texts, file, limiter, parsed, parse: [] as number[], reload: [] as number[] };
  });
  let flip = 0;
  const warm = Math.max(1, Math.floor(calls / 10));
  for (let i = -warm; i < calls; i++) {
    flip = 1 - flip;
    for (const s of sizes) {
      let t0 = performance.now();
      parseConfig(s.texts[flip]!, { file: s.file, store });
      const parseUs = (performance.now() - t0) * 1000;
      t0 = performance.now();
      s.limiter.reload(s.parsed[flip]!, { source: s.file });
      const reloadUs = (performance.now() - t0) * 1000;
      if (i >= 0) {
        s.parse.push(parseUs);
        s.reload.push(reloadUs);
      }
    }
  }
  const result = {} as MicroResult;
  for (const s of sizes) {
    void s.limiter.close();
    result[s.n as (typeof RULE_COUNTS)[number]] = {
      parse: timing(s.parse),
      reload: timing(s.reload),
      bytes: Buffer.byteLength(s.texts[0]),
    };
  }
  return result;
}
