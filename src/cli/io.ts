import { isThrottlekitError } from "../index.js";

/** Exit codes (docs/cli.md): stable, so scripts and CI can branch on them. */
export const EXIT = Object.freeze({
  /** Done; or a check passed. */
  ok: 0,
  /** Invalid configuration, a failed check (`test --expect-*`), or a store that failed. */
  failed: 1,
  /** Usage: unknown command or option, a bad argument, something required is missing. */
  usage: 2,
});

/**
 * A user error: its message is printed as is (never a stack trace) and the process exits with
 * `exitCode`. Thrown by commands; caught once, in `run`.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Where a command writes: process streams in the binary, buffers in tests. */
export type CliIo = {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
};

export const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
};

/** True for throttlekit's ConfigError, from this copy of the package or another one. */
export function isConfigError(error: unknown): error is Error & {
  problems: readonly { option: string; received: unknown; expected: string }[];
} {
  return isThrottlekitError(error) && error.code === "ERR_TK_CONFIG";
}

/** "1.5s", "250ms", "2m 5s": a duration for people. Infinity reads "never". */
export function humanMs(ms: number): string {
  if (!Number.isFinite(ms)) return "never";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${trim(ms / 1000)}s`;
  const units: [string, number][] = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ];
  const parts: string[] = [];
  let rest = Math.round(ms / 1000) * 1000;
  for (const [unit, size] of units) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.slice(0, 2).join(" ");
}

function trim(n: number): string {
  return n.toFixed(3).replace(/\.?0+$/, "");
}

/** A percentage with two decimals: 0.3333 → "33.33%". */
export function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(2)}%`;
}

/** Columns padded to their widest cell; numbers (cells matching a number) right-aligned. */
export function table(rows: readonly (readonly string[])[], indent = ""): string[] {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, i) => {
          const w = widths[i] ?? 0;
          return /^-?[\d.,]+(%|\/s)?$/.test(cell) ? cell.padStart(w) : cell.padEnd(w);
        })
        .join("  ")
        .trimEnd(),
  );
}

/** Strips control characters from text that came from clients or the store (keys, reasons). */
export function printable(text: string): string {
  let out = "";
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    out += c < 0x20 || (c >= 0x7f && c < 0xa0) ? "?" : ch;
  }
  return out;
}
