import { writeFile } from "node:fs/promises";
import { extname, resolve } from "node:path";
import { type FleetMetrics, type OutcomeCounts, readFleetMetrics } from "../index.js";
import { metricsPrefix, openStore } from "./config-file.js";
import { CliError, type CliIo, EXIT, percent, printable, table } from "./io.js";
import { requireShared } from "./store.js";

export type StatsOptions = {
  config?: string;
  redis?: string;
  metricsPrefix?: string;
  window: string;
  top: number;
  export?: string;
  json?: boolean;
};

const COUNT_COLUMNS = [
  "requests",
  "allowed",
  "limited",
  "blocked",
  "denied",
  "degraded",
  "shadowed",
] as const;

/** The CSV's columns: one table, a `kind` per row (total, rule, policy, second, offender). */
export const CSV_COLUMNS = Object.freeze([
  "kind",
  "second",
  "rule",
  "policy",
  "key",
  ...COUNT_COLUMNS,
  "block_rate",
  "refusals",
  "error",
]);

/**
 * One CSV cell (RFC 4180). Text that a spreadsheet would run as a formula (=, +, -, @ first:
 * offender keys come from clients) is prefixed with a quote, as OWASP advises.
 */
export function csvCell(value: string | number | undefined): string {
  if (value === undefined) return "";
  if (typeof value === "number") return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The fleet's metrics as CSV rows: totals, per rule, per policy, per second and rule, offenders. */
export function toCsv(m: FleetMetrics): string {
  const rows: (string | number | undefined)[][] = [];
  const counted = (
    kind: string,
    second: number | undefined,
    rule: string | undefined,
    policy: string | undefined,
    c: OutcomeCounts,
  ) =>
    rows.push([
      kind,
      second,
      rule,
      policy,
      undefined,
      ...COUNT_COLUMNS.map((k) => c[k]),
      Number(c.blockRate.toFixed(6)),
      undefined,
      undefined,
    ]);
  counted("total", undefined, undefined, undefined, m.total);
  for (const [rule, r] of Object.entries(m.rules)) {
    counted("rule", undefined, rule, undefined, r);
    for (const [policy, p] of Object.entries(r.policies))
      counted("policy", undefined, rule, policy, p);
  }
  for (const s of m.seconds) {
    for (const [rule, r] of Object.entries(s.rules))
      counted("second", s.second, rule, undefined, r);
  }
  for (const o of m.topOffenders) {
    rows.push([
      "offender",
      undefined,
      undefined,
      undefined,
      o.key,
      ...COUNT_COLUMNS.map(() => undefined),
      undefined,
      o.count,
      o.error,
    ]);
  }
  return `${[CSV_COLUMNS, ...rows].map((r) => r.map(csvCell).join(",")).join("\r\n")}\r\n`;
}

/** The summary `stats` prints. */
export function formatStats(m: FleetMetrics, top: number): string[] {
  const t = m.total;
  const out = [
    `fleet metrics ${new Date(m.from).toISOString()} .. ${new Date(m.to).toISOString()}`,
    `  requests ${t.requests}, allowed ${t.allowed}, limited ${t.limited}, blocked ${t.blocked}, denied ${t.denied}, degraded ${t.degraded}`,
    `  block rate ${percent(t.blockRate)}`,
    "",
  ];
  const rules = Object.entries(m.rules).sort((a, b) => b[1].requests - a[1].requests);
  if (rules.length === 0) {
    out.push("no requests recorded in this span (do the servers collect metrics with a store?)");
    return out;
  }
  out.push(
    ...table([
      ["RULE", "REQUESTS", "ALLOWED", "LIMITED", "BLOCKED", "DENIED", "BLOCK RATE"],
      ...rules.map(([name, r]) => [
        printable(name),
        String(r.requests),
        String(r.allowed),
        String(r.limited),
        String(r.blocked),
        String(r.denied),
        percent(r.blockRate),
      ]),
    ]),
  );
  const offenders = m.topOffenders.slice(0, top);
  if (offenders.length > 0) {
    out.push("", "top offenders:");
    out.push(
      ...table(
        offenders.map((o) => [printable(o.key), String(o.count)]),
        "  ",
      ),
    );
  }
  return out;
}

export async function runStats(options: StatsOptions, io: CliIo): Promise<number> {
  const format = options.export === undefined ? undefined : extname(options.export).toLowerCase();
  if (format !== undefined && format !== ".json" && format !== ".csv") {
    throw new CliError(
      `--export: the file must end in .json or .csv, got ${JSON.stringify(options.export)}`,
    );
  }
  const opened = await openStore(options, io);
  try {
    requireShared(opened, "stats");
    const prefix = metricsPrefix(options.metricsPrefix, opened.http);
    let m: FleetMetrics;
    try {
      m = await readFleetMetrics({
        store: opened.store,
        prefix,
        window: options.window,
      });
    } catch (error) {
      if ((error as { code?: string }).code === "ERR_TK_CONFIG") {
        const p = (error as { problems: { option: string; expected: string }[] }).problems;
        throw new CliError(
          p.map((x) => `${x.option.replace("readFleetMetrics.", "--")}: ${x.expected}`).join("\n"),
        );
      }
      throw error;
    }
    if (options.export !== undefined) {
      const path = resolve(io.cwd, options.export);
      const body =
        format === ".json"
          ? `${JSON.stringify({ source: opened.label, prefix, window: options.window, ...m }, null, 2)}\n`
          : toCsv(m);
      await writeFile(path, body);
      io.err(`wrote ${path}\n`);
    }
    if (options.json === true) io.out(`${JSON.stringify(m, null, 2)}\n`);
    else io.out(`${formatStats(m, options.top).join("\n")}\n`);
    return EXIT.ok;
  } finally {
    await opened.close();
  }
}
