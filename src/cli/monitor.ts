import { type FleetMetrics, parseDuration, readFleetMetrics, type Store } from "../index.js";
import { metricsPrefix, openStore } from "./config-file.js";
import { CliError, type CliIo, EXIT, percent, printable, table } from "./io.js";
import { requireShared } from "./store.js";

export type MonitorOptions = {
  config?: string;
  redis?: string;
  metricsPrefix?: string;
  rateWindow: string;
  refresh: string;
  count?: number;
  plain?: boolean;
};

/** Per-rule rates over the rate window, for one refresh. */
export type RuleRate = {
  readonly rule: string;
  readonly perSecond: number;
  readonly allowedPerSecond: number;
  readonly refusedPerSecond: number;
  readonly blockRate: number;
};

export type MonitorView = {
  readonly at: number;
  readonly rateWindowS: number;
  readonly total: RuleRate;
  readonly rules: readonly RuleRate[];
  /** Over the last minute. */
  readonly offenders: readonly { key: string; count: number }[];
  /** Seconds with refusals, newest first: "12:00:04 login 5 limited, 1 blocked". */
  readonly violations: readonly {
    second: number;
    rule: string;
    limited: number;
    blocked: number;
    denied: number;
  }[];
  readonly error: string | undefined;
};

const ALT_SCREEN_ON = "\x1b[?1049h";
/** Leaves the alternate screen: the terminal shows what it showed before `monitor` began. */
export const ALT_SCREEN_OFF = "\x1b[?1049l";
const CURSOR_HIDE = "\x1b[?25l";
const CURSOR_SHOW = "\x1b[?25h";
const HOME = "\x1b[H";
const CLEAR_LINE = "\x1b[K";
const CLEAR_BELOW = "\x1b[J";

function rate(
  rule: string,
  c: { requests: number; allowed: number; limited: number; blocked: number; denied: number },
  seconds: number,
): RuleRate {
  const refused = c.limited + c.blocked + c.denied;
  return {
    rule,
    perSecond: c.requests / seconds,
    allowedPerSecond: c.allowed / seconds,
    refusedPerSecond: refused / seconds,
    blockRate: c.requests === 0 ? 0 : refused / c.requests,
  };
}

type Counts = {
  requests: number;
  allowed: number;
  limited: number;
  blocked: number;
  denied: number;
};
const zero = (): Counts => ({ requests: 0, allowed: 0, limited: 0, blocked: 0, denied: 0 });
function add(into: Counts, c: Counts): void {
  into.requests += c.requests;
  into.allowed += c.allowed;
  into.limited += c.limited;
  into.blocked += c.blocked;
  into.denied += c.denied;
}

/**
 * Builds one refresh's view from the last minute of fleet buckets. Rates cover the finished
 * seconds of the rate window (collectors flush a second once it is over), so the second in
 * progress never shows as a dip.
 */
export function buildView(m: FleetMetrics, now: number, rateWindowS: number): MonitorView {
  const nowSecond = Math.floor(now / 1000);
  const first = nowSecond - rateWindowS;
  const total = zero();
  const perRule = new Map<string, Counts>();
  const violations: MonitorView["violations"][number][] = [];
  for (const s of m.seconds) {
    const inWindow = s.second >= first && s.second < nowSecond;
    for (const [rule, r] of Object.entries(s.rules)) {
      if (inWindow) {
        let c = perRule.get(rule);
        if (c === undefined) {
          c = zero();
          perRule.set(rule, c);
        }
        add(c, r);
        add(total, r);
      }
      if (r.limited + r.blocked + r.denied > 0) {
        violations.push({
          second: s.second,
          rule,
          limited: r.limited,
          blocked: r.blocked,
          denied: r.denied,
        });
      }
    }
  }
  // Rules seen in the last minute stay listed (at 0/s) so a quiet rule does not vanish.
  for (const rule of Object.keys(m.rules)) if (!perRule.has(rule)) perRule.set(rule, zero());
  violations.sort((a, b) => b.second - a.second || a.rule.localeCompare(b.rule));
  return {
    at: now,
    rateWindowS,
    total: rate("total", total, rateWindowS),
    rules: [...perRule]
      .map(([rule, c]) => rate(rule, c, rateWindowS))
      .sort((a, b) => b.perSecond - a.perSecond || a.rule.localeCompare(b.rule)),
    offenders: m.topOffenders.map((o) => ({ key: o.key, count: o.count })),
    violations,
    error: undefined,
  };
}

const perS = (n: number) => `${n.toFixed(1)}/s`;
const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/** The full-screen frame: header, totals, rules, top offenders, recent violations. */
export function renderFrame(
  view: MonitorView,
  source: string,
  rows: number,
  cols: number,
): string[] {
  const out: string[] = [
    `throttlekit monitor  ${source}  ${clock(view.at)} UTC   (q or Ctrl-C to quit)`,
    `rates over the last ${view.rateWindowS}s: ${perS(view.total.perSecond)} requests, ${perS(view.total.allowedPerSecond)} allowed, ${perS(view.total.refusedPerSecond)} refused, block rate ${percent(view.total.blockRate)}`,
  ];
  if (view.error !== undefined) out.push(`store error: ${view.error} (retrying)`);
  out.push("");
  if (view.rules.length === 0) {
    out.push("no requests in the last minute (do the servers collect metrics with a store?)");
  } else {
    out.push(
      ...table([
        ["RULE", "REQ/S", "ALLOWED/S", "REFUSED/S", "BLOCK RATE"],
        ...view.rules.map((r) => [
          printable(r.rule),
          perS(r.perSecond),
          perS(r.allowedPerSecond),
          perS(r.refusedPerSecond),
          percent(r.blockRate),
        ]),
      ]),
    );
  }
  const room = Math.max(3, Math.floor((rows - out.length - 4) / 2));
  out.push("", "TOP OFFENDERS (last minute)");
  if (view.offenders.length === 0) out.push("  none");
  else
    out.push(
      ...table(
        view.offenders.slice(0, room).map((o) => [printable(o.key), `${o.count}`]),
        "  ",
      ),
    );
  out.push("", "RECENT VIOLATIONS");
  if (view.violations.length === 0) out.push("  none");
  for (const v of view.violations.slice(0, room)) {
    const what = [
      v.limited > 0 ? `${v.limited} limited` : "",
      v.blocked > 0 ? `${v.blocked} blocked` : "",
      v.denied > 0 ? `${v.denied} denied` : "",
    ].filter((x) => x !== "");
    out.push(`  ${clock(v.second * 1000)}  ${printable(v.rule)}: ${what.join(", ")}`);
  }
  return out.slice(0, Math.max(1, rows)).map((l) => (l.length > cols ? l.slice(0, cols) : l));
}

/** One line per refresh, for pipes and logs. */
export function renderLine(view: MonitorView): string {
  const parts = [
    new Date(view.at).toISOString(),
    `requests ${perS(view.total.perSecond)}`,
    `allowed ${perS(view.total.allowedPerSecond)}`,
    `refused ${perS(view.total.refusedPerSecond)}`,
    `block rate ${percent(view.total.blockRate)}`,
  ];
  const rules = view.rules.map(
    (r) => `${printable(r.rule)} ${perS(r.perSecond)} (${percent(r.blockRate)})`,
  );
  const top = view.offenders.slice(0, 3).map((o) => `${printable(o.key)} (${o.count})`);
  let line = parts.join("  ");
  if (rules.length > 0) line += `  | rules: ${rules.join(", ")}`;
  if (top.length > 0) line += `  | top: ${top.join(", ")}`;
  if (view.error !== undefined) line += `  | store error: ${view.error}`;
  return line;
}

async function readView(
  store: Store,
  prefix: string,
  rateWindowS: number,
  last: MonitorView | undefined,
): Promise<MonitorView> {
  const now = Date.now();
  try {
    const m = await readFleetMetrics({ store, prefix, window: "1m", to: now, topOffenders: 20 });
    return buildView(m, now, rateWindowS);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const base = last ?? buildView(emptyFleet(now), now, rateWindowS);
    return { ...base, at: now, error: message };
  }
}

function emptyFleet(now: number): FleetMetrics {
  const counts = {
    requests: 0,
    allowed: 0,
    limited: 0,
    blocked: 0,
    denied: 0,
    degraded: 0,
    shadowed: 0,
    blockRate: 0,
  };
  return { from: now, to: now, total: counts, rules: {}, seconds: [], topOffenders: [] };
}

/**
 * `monitor`: a live view refreshed every `refresh`. On a terminal it draws in the alternate
 * screen with stdin in raw mode, and q, Ctrl-C, SIGINT, SIGTERM and SIGHUP all restore the
 * terminal (cursor, screen, cooked mode) before exiting. Anywhere else (a pipe, a log) it prints
 * one line per refresh.
 */
export async function runMonitor(options: MonitorOptions, io: CliIo): Promise<number> {
  const refreshMs = parseDuration(options.refresh);
  if (refreshMs === undefined || refreshMs < 100 || refreshMs > 3_600_000) {
    throw new CliError(
      `--refresh: expected a duration from 100ms to 1h, got ${JSON.stringify(options.refresh)}`,
    );
  }
  const rateMs = parseDuration(options.rateWindow);
  if (rateMs === undefined || rateMs < 1000 || rateMs > 60_000 || rateMs % 1000 !== 0) {
    throw new CliError(
      `--rate-window: expected whole seconds from 1s to 1m, got ${JSON.stringify(options.rateWindow)}`,
    );
  }
  if (options.count !== undefined && (!Number.isSafeInteger(options.count) || options.count < 1)) {
    throw new CliError("--count: expected a whole number ≥ 1");
  }
  const opened = await openStore(options, io);
  try {
    requireShared(opened, "monitor");
    const tty =
      options.plain !== true && process.stdout.isTTY === true && process.stdin.isTTY === true;
    const prefix = metricsPrefix(options.metricsPrefix, opened.http);
    return await loop(
      opened.store,
      `${opened.label} (metrics prefix ${prefix})`,
      prefix,
      options,
      refreshMs,
      rateMs / 1000,
      tty,
      io,
    );
  } finally {
    await opened.close();
  }
}

async function loop(
  store: Store,
  label: string,
  prefix: string,
  options: MonitorOptions,
  refreshMs: number,
  rateWindowS: number,
  tty: boolean,
  io: CliIo,
): Promise<number> {
  const stdin = process.stdin;
  const stdout = process.stdout;
  let stop: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let done = false;
  const quit = () => {
    done = true;
    stop?.();
  };
  const restore = () => {
    if (!tty) return;
    if (stdin.isTTY) stdin.setRawMode(false);
    stdout.write(`${CURSOR_SHOW}${ALT_SCREEN_OFF}`);
  };
  let restored = false;
  const restoreOnce = () => {
    if (restored) return;
    restored = true;
    restore();
  };
  const onKey = (data: Buffer) => {
    const key = data.toString("utf8");
    // q, Q, Ctrl-C (raw mode delivers it as a byte, not a signal), Ctrl-D.
    if (key === "q" || key === "Q" || key.includes("\x03") || key.includes("\x04")) quit();
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const s of signals) process.on(s, quit);
  // A crash must not leave the terminal in the alternate screen with the cursor hidden.
  process.once("exit", restoreOnce);
  let last: MonitorView | undefined;
  const redraw = () => {
    if (last === undefined) return;
    // A pseudo-terminal nobody sized reports 0 × 0: draw for the classic 80 × 24 then.
    const frame = renderFrame(last, label, stdout.rows || 24, stdout.columns || 80);
    stdout.write(`${HOME}${frame.map((l) => `${l}${CLEAR_LINE}`).join("\r\n")}\r\n${CLEAR_BELOW}`);
  };
  if (tty) {
    stdout.write(`${ALT_SCREEN_ON}${CURSOR_HIDE}`);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onKey);
    stdout.on("resize", redraw);
  }
  try {
    let n = 0;
    while (!done) {
      last = await readView(store, prefix, rateWindowS, last);
      if (done) break;
      if (tty) redraw();
      else io.out(`${renderLine(last)}\n`);
      n++;
      if (options.count !== undefined && n >= options.count) break;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        stopped,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, refreshMs);
        }),
      ]);
      clearTimeout(timer);
    }
  } finally {
    for (const s of signals) process.off(s, quit);
    process.off("exit", restoreOnce);
    if (tty) {
      stdin.off("data", onKey);
      stdout.off("resize", redraw);
      stdin.pause();
    }
    restoreOnce();
  }
  return EXIT.ok;
}
