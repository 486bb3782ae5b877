import type { Figures } from "./measure.js";
import type { MemoryFigures } from "./memory.js";

export type Row = Figures & {
  /** median ÷ rate-limiter-flexible's median in the same case. */
  readonly vsRlf: number | null;
  /** median ÷ the naive Map's median of the same mode (async or sync) in the same case. */
  readonly vsNaive: number | null;
};

export function withRatios(figures: readonly Figures[]): Row[] {
  const byId = new Map(figures.map((f) => [f.id, f]));
  const rlf = byId.get("rlf")?.median;
  return figures.map((f) => {
    const naive = byId.get(f.mode === "async" ? "naive-async" : "naive-sync")?.median;
    return {
      ...f,
      vsRlf: rlf === undefined ? null : round2(f.median / rlf),
      vsNaive: naive === undefined ? null : round2(f.median / naive),
    };
  });
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function mops(x: number): string {
  return `${(x / 1e6).toFixed(2)} M`;
}

function ratio(x: number | null): string {
  return x === null ? "" : `${x.toFixed(2)}×`;
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function throughputTable(rows: readonly Row[]): string {
  return table(
    ["contender", "median ops/s", "best ops/s", "× RLF", "× naive (same mode)"],
    rows.map((r) => [r.label, mops(r.median), mops(r.best), ratio(r.vsRlf), ratio(r.vsNaive)]),
  );
}

export function memoryTable(rows: readonly MemoryFigures[]): string {
  const mb = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
  return table(
    ["structure (1 M keys)", "heapUsed Δ", "arrayBuffers Δ", "bytes/key"],
    rows.map((r) => [r.label, mb(r.heapBytes), mb(r.arrayBufferBytes), r.bytesPerKey.toFixed(1)]),
  );
}

export type Target = {
  readonly name: string;
  readonly measured: number | null;
  readonly target: string;
  readonly met: boolean;
};

export function targetTable(targets: readonly Target[]): string {
  return table(
    ["target", "measured", "required", "met"],
    targets.map((t) => [
      t.name,
      t.measured === null ? "n/a" : String(t.measured),
      t.target,
      t.met ? "yes" : "NO",
    ]),
  );
}
