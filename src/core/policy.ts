import {
  DURATION_FORM,
  type Duration,
  formatDuration,
  MAX_TIMER_MS,
  parseDuration,
  parseTimerDuration,
  TIMER_DURATION_FORM,
  unitMs,
} from "./duration.js";
import { ProblemList } from "./errors/config-error.js";

/** The six algorithms. Their exact rules are in docs/algorithms.md. */
export const ALGORITHMS = [
  "fixed-window",
  "sliding-window",
  "sliding-log",
  "token-bucket",
  "gcra",
  "leaky-bucket",
] as const;
export type AlgorithmName = (typeof ALGORITHMS)[number];

/**
 * Algorithms whose capacity is a bucket (`burst`) rather than a count per window: the one list
 * every module that asks "does `burst` apply?" reads.
 */
export const BUCKETS: ReadonlySet<AlgorithmName> = new Set([
  "token-bucket",
  "gcra",
  "leaky-bucket",
]);

/**
 * The largest `limit` or `burst`: RFC 9651 §3.3.1 integers have at most 15 digits, and the
 * `RateLimit-Policy` header sends the limit as `q=` (issue 13 item 10). Larger values are
 * refused, never clamped.
 */
export const MAX_LIMIT = 999_999_999_999_999;

/**
 * The longest `window` and `blockFor`: 10 years. Stores add these to the current time (and a
 * block's end to it), and the sum must stay an exact integer whatever the clock says
 * (Number.MAX_SAFE_INTEGER is about 285,000 years of ms).
 */
export const MAX_POLICY_MS = 3650 * 86_400_000;

/** Short codes keep store keys small; they also separate state of different algorithms. */
const CODES: Readonly<Record<AlgorithmName, string>> = {
  "fixed-window": "fw",
  "sliding-window": "sw",
  "sliding-log": "sl",
  "token-bucket": "tb",
  gcra: "gc",
  "leaky-bucket": "lb",
};

/** A policy as written by a user: shorthand text or an object. */
export type PolicyInput = string | PolicyOptions;

export type PolicyOptions = {
  /** Requests (cost units) allowed per window. A whole number ≥ 1. */
  limit: number;
  /** Window length: ms or text ("1m", "30s", "1h30m"). */
  window: Duration;
  /** @default "sliding-window" */
  algorithm?: AlgorithmName;
  /** Bucket capacity for token-bucket, gcra and leaky-bucket. @default limit */
  burst?: number;
  /**
   * Penalty box: once this policy rejects a key, the key is blocked for this long. A duration
   * blocks for that long every time; `{ base, factor?, max?, forgetAfter? }` escalates for
   * repeat offenders (fail2ban's bantime.increment, docs/penalties.md). @default 0
   */
  blockFor?: BlockForInput;
  /** Name shown in headers and metrics; also separates store state. @default "<limit>/<window>" */
  name?: string;
  /** leaky-bucket only: "delay" admits with `delayMs` instead of rejecting. @default "reject" */
  mode?: "reject" | "delay";
  /** leaky-bucket "delay" mode: longest delay handed out. @default burst × window / limit */
  maxDelay?: Duration;
};

/**
 * A policy's `blockFor`: a duration (the same block every time), or an escalating penalty.
 *
 * @example
 * "15m"
 * { base: "1m", factor: 2, max: "1d", forgetAfter: "1d" } // 1m, 2m, 4m, ... up to 1d
 */
export type BlockForInput = Duration | EscalatingBlockFor;

/**
 * An escalating penalty (fail2ban's bantime.increment). The k-th block in a row lasts
 * min(max, base × factor^k), k counting from 0; a block is remembered until `forgetAfter` after
 * it ends, and a block that starts while the previous one is remembered continues the row
 * (one that starts later starts over at `base`). The memory is kept in the store, so a fleet on
 * Redis escalates together.
 */
export type EscalatingBlockFor = {
  /** The first block's length: a positive duration. */
  base: Duration;
  /** Each block in a row lasts this many times the one before: a number ≥ 1. @default 2 */
  factor?: number;
  /** The longest block; never below `base`. @default "1d" (or `base` when it is longer) */
  max?: Duration;
  /** How long after a block ends it is remembered: a positive duration. @default "1d" */
  forgetAfter?: Duration;
};

/** A validated escalation: `Policy.blockForMs` is its base. */
export type Escalation = {
  readonly factor: number;
  readonly maxMs: number;
  readonly forgetAfterMs: number;
};

/** A validated, normalised policy. Every field is explicit; stores read these, never the input. */
export type Policy = {
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly algorithm: AlgorithmName;
  /**
   * The largest cost one request can ever carry: the bucket size for token-bucket, gcra and
   * leaky-bucket, and `limit` for the window algorithms.
   */
  readonly burst: number;
  /** The block a rejection starts (the first one, when `escalation` is set); 0 for none. */
  readonly blockForMs: number;
  /**
   * Set when `blockFor` escalates: later blocks in a row grow from `blockForMs` by `factor` up
   * to `maxMs`. Undefined (or absent, in policies built by hand) for a fixed block.
   */
  readonly escalation?: Escalation | undefined;
  readonly mode: "reject" | "delay";
  readonly maxDelayMs: number;
  /** Stable identity of this policy's state in a store (changes when its parameters change). */
  readonly id: string;
};

const SHORTHAND_FORM =
  '"<limit>/<window>" or "<limit> per <window>", e.g. "100/min", "5/10s", "1000 per hour", "20000/d"';
const POLICY_KEYS = [
  "limit",
  "window",
  "algorithm",
  "burst",
  "blockFor",
  "name",
  "mode",
  "maxDelay",
];
const LIMIT_FORM = `a whole number from 1 to ${MAX_LIMIT}`;
const WINDOW_FORM = `a positive duration of at most 10 years (${MAX_POLICY_MS} ms): ${DURATION_FORM}`;
const BLOCK_FOR_FORM = `a duration of at most 10 years (${MAX_POLICY_MS} ms): ${DURATION_FORM}, or { base, factor?, max?, forgetAfter? }`;
const ESCALATION_KEYS = ["base", "factor", "max", "forgetAfter"];
const POSITIVE_FORM = `a positive duration of at most 10 years (${MAX_POLICY_MS} ms): ${DURATION_FORM}`;
const DAY_MS = 86_400_000;
/** The largest `factor`: beyond it the second block is already past any `max` allowed. */
const MAX_FACTOR = MAX_POLICY_MS;

/** The largest value of burst × windowMs: beyond it integer arithmetic stops being exact. */
const MAX_SCALED = Number.MAX_SAFE_INTEGER;

/**
 * Validates one or many policies, collecting every problem into one ConfigError.
 *
 * @example
 * parsePolicies(["10/s", { limit: 1000, window: "1h", algorithm: "gcra" }])
 */
export function parsePolicies(input: unknown, option = "policies"): Policy[] {
  const problems = new ProblemList();
  const list = Array.isArray(input) ? input : [input];
  if (input === undefined || list.length === 0) {
    problems.add(option, input, `a policy or a non-empty array of policies (${SHORTHAND_FORM})`);
  }
  const policies: Policy[] = [];
  list.forEach((item, i) => {
    const where = Array.isArray(input) ? `${option}[${i}]` : option;
    const policy = parseOne(item, where, problems);
    if (policy !== undefined) policies.push(policy);
  });
  const seen = new Map<string, number>();
  policies.forEach((p, i) => {
    const first = seen.get(p.id);
    if (first !== undefined) {
      problems.add(
        `${option}[${i}]`,
        p.name,
        `a policy different from ${option}[${first}], or give each a distinct name`,
      );
    }
    seen.set(p.id, i);
  });
  problems.throwIfAny();
  return policies;
}

function parseOne(input: unknown, where: string, problems: ProblemList): Policy | undefined {
  if (typeof input === "string") return parseShorthand(input, where, problems);
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    problems.add(where, input, `${SHORTHAND_FORM}, or { limit, window, algorithm? }`);
    return undefined;
  }
  return parseObject(input as Record<string, unknown>, where, problems);
}

function parseShorthand(text: string, where: string, problems: ProblemList): Policy | undefined {
  const m = /^\s*(\S+?)\s*(?:\/|\s+per\s+)\s*(.+?)\s*$/i.exec(text);
  if (m === null) {
    problems.add(where, text, SHORTHAND_FORM);
    return undefined;
  }
  // Decimal digits only: Number() would also read "1e3", "0x10", "1_000" or "Infinity".
  const limit = /^\d+$/.test(m[1]!) ? Number(m[1]) : Number.NaN;
  const windowText = m[2]!.toLowerCase();
  // "100/min" names a bare unit; "5/10s" and "1/1h30m" are durations.
  const windowMs = unitMs(windowText) ?? parseDuration(windowText);
  let ok = true;
  if (!isLimit(limit)) {
    problems.add(
      where,
      text,
      `a limit of decimal digits, from 1 to ${MAX_LIMIT}, in ${SHORTHAND_FORM}`,
    );
    ok = false;
  }
  if (windowMs === undefined || windowMs <= 0 || windowMs > MAX_POLICY_MS) {
    problems.add(
      where,
      text,
      `a window of at most 10 years that is a unit (ms, s, m/min/minute, h/hour, d/day) or a duration like "10s" in ${SHORTHAND_FORM}`,
    );
    ok = false;
  }
  if (!ok) return undefined;
  return build({ limit, windowMs: windowMs!, algorithm: "sliding-window" }, where, problems);
}

function parseObject(
  o: Record<string, unknown>,
  where: string,
  problems: ProblemList,
): Policy | undefined {
  const before = problems.items.length;
  problems.unknownKeys(o, POLICY_KEYS, where);
  if (!isLimit(o.limit)) problems.add(`${where}.limit`, o.limit, LIMIT_FORM);
  const windowMs = parseDuration(o.window);
  if (windowMs === undefined || windowMs <= 0 || windowMs > MAX_POLICY_MS) {
    problems.add(`${where}.window`, o.window, WINDOW_FORM);
  }
  const algorithm = o.algorithm ?? "sliding-window";
  if (!(ALGORITHMS as readonly unknown[]).includes(algorithm)) {
    problems.add(
      `${where}.algorithm`,
      o.algorithm,
      `one of ${ALGORITHMS.map((a) => `"${a}"`).join(", ")}`,
    );
  }
  const isBucket = BUCKETS.has(algorithm as AlgorithmName);
  if (o.burst !== undefined) {
    if (!isBucket) {
      problems.add(
        `${where}.burst`,
        o.burst,
        `no burst: it applies only to ${[...BUCKETS].map((a) => `"${a}"`).join(", ")}`,
      );
    } else if (!isLimit(o.burst)) {
      problems.add(`${where}.burst`, o.burst, LIMIT_FORM);
    }
  }
  const blockFor = parseBlockFor(o.blockFor, `${where}.blockFor`, problems);
  if (o.name !== undefined && (typeof o.name !== "string" || !/^[\w.:/-]{1,64}$/.test(o.name))) {
    problems.add(`${where}.name`, o.name, "1 to 64 characters of letters, digits, _ . : / -");
  }
  const mode = o.mode ?? "reject";
  if (mode !== "reject" && mode !== "delay") {
    problems.add(`${where}.mode`, o.mode, '"reject" or "delay"');
  } else if (o.mode !== undefined && algorithm !== "leaky-bucket") {
    problems.add(`${where}.mode`, o.mode, 'no mode: it applies only to "leaky-bucket"');
  }
  let maxDelayMs: number | undefined;
  if (o.maxDelay !== undefined) {
    // A delay is waited out with a timer (the HTTP layer's smoothing), so it is a timer's range.
    maxDelayMs = parseTimerDuration(o.maxDelay);
    if (mode !== "delay") {
      problems.add(`${where}.maxDelay`, o.maxDelay, 'no maxDelay unless mode is "delay"');
    } else if (maxDelayMs === undefined) {
      problems.add(`${where}.maxDelay`, o.maxDelay, TIMER_DURATION_FORM);
    }
  }
  if (problems.items.length > before) return undefined;
  return build(
    {
      limit: o.limit as number,
      windowMs: windowMs!,
      algorithm: algorithm as AlgorithmName,
      ...(o.burst !== undefined ? { burst: o.burst as number } : {}),
      blockForMs: blockFor?.baseMs ?? 0,
      ...(blockFor?.escalation !== undefined ? { escalation: blockFor.escalation } : {}),
      ...(o.name !== undefined ? { name: o.name as string } : {}),
      mode: mode as "reject" | "delay",
      ...(maxDelayMs !== undefined ? { maxDelayMs } : {}),
    },
    where,
    problems,
  );
}

function build(
  p: {
    limit: number;
    windowMs: number;
    algorithm: AlgorithmName;
    burst?: number;
    blockForMs?: number;
    escalation?: Escalation;
    name?: string;
    mode?: "reject" | "delay";
    maxDelayMs?: number;
  },
  where: string,
  problems: ProblemList,
): Policy | undefined {
  const burst = p.burst ?? p.limit;
  if (burst * p.windowMs > MAX_SCALED || p.limit * p.windowMs > MAX_SCALED) {
    problems.add(
      where,
      `${p.limit} (burst ${burst}) per ${p.windowMs}ms`,
      `limit × window and burst × window at most ${MAX_SCALED} (exact integer arithmetic)`,
    );
    return undefined;
  }
  const maxDelayMs = p.maxDelayMs ?? Math.ceil((burst * p.windowMs) / p.limit);
  if (p.mode === "delay" && maxDelayMs > MAX_TIMER_MS) {
    problems.add(
      `${where}.maxDelay`,
      undefined,
      `an explicit maxDelay: the default (burst × window / limit = ${maxDelayMs} ms) is beyond a timer's range; ${TIMER_DURATION_FORM}`,
    );
    return undefined;
  }
  const code = CODES[p.algorithm];
  const e = p.escalation;
  // An escalating policy keeps its row of blocks with its state: other parameters, other state.
  const params =
    e === undefined
      ? `${code}:${p.limit}:${p.windowMs}:${burst}`
      : `${code}:${p.limit}:${p.windowMs}:${burst}:e${p.blockForMs}*${e.factor}^${e.maxMs}~${e.forgetAfterMs}`;
  return Object.freeze({
    name: p.name ?? `${p.limit}/${formatDuration(p.windowMs)}`,
    limit: p.limit,
    windowMs: p.windowMs,
    algorithm: p.algorithm,
    burst,
    blockForMs: p.blockForMs ?? 0,
    escalation: e,
    mode: p.mode ?? "reject",
    maxDelayMs,
    id: p.name === undefined ? params : `${p.name}:${params}`,
  });
}

function isLimit(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 1 && v <= MAX_LIMIT;
}

/**
 * Validates a `blockFor` (a policy's, or an HTTP rule's) under `option`: undefined when absent
 * or invalid (the problems are added), else the first block and the escalation, if any.
 */
export function parseBlockFor(
  input: unknown,
  option: string,
  problems: ProblemList,
): { baseMs: number; escalation: Escalation | undefined } | undefined {
  if (input === undefined) return undefined;
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    const ms = parseDuration(input);
    if (ms === undefined || ms > MAX_POLICY_MS) {
      problems.add(option, input, BLOCK_FOR_FORM);
      return undefined;
    }
    return { baseMs: ms, escalation: undefined };
  }
  const o = input as Record<string, unknown>;
  const before = problems.items.length;
  problems.unknownKeys(o, ESCALATION_KEYS, option);
  const baseMs = positive(o.base, `${option}.base`, problems);
  const factor = o.factor ?? 2;
  if (typeof factor !== "number" || !Number.isFinite(factor) || factor < 1 || factor > MAX_FACTOR) {
    problems.add(`${option}.factor`, o.factor, `a number from 1 to ${MAX_FACTOR}`);
  }
  const maxMs =
    o.max === undefined
      ? Math.max(DAY_MS, baseMs ?? 0)
      : positive(o.max, `${option}.max`, problems);
  if (baseMs !== undefined && maxMs !== undefined && maxMs < baseMs) {
    problems.add(`${option}.max`, o.max, `a duration ≥ base (${formatDuration(baseMs)})`);
  }
  const forgetAfterMs =
    o.forgetAfter === undefined
      ? DAY_MS
      : positive(o.forgetAfter, `${option}.forgetAfter`, problems);
  if (problems.items.length > before) return undefined;
  return {
    baseMs: baseMs!,
    escalation: Object.freeze({
      factor: factor as number,
      maxMs: maxMs!,
      forgetAfterMs: forgetAfterMs!,
    }),
  };
}

/**
 * A policy's `blockFor` as an input again (an HTTP rule rewrites its policies with the rule's
 * blockFor and must keep a policy's own), or undefined when it blocks nobody.
 */
export function blockForInput(p: Policy): BlockForInput | undefined {
  if (p.blockForMs === 0) return undefined;
  const e = p.escalation;
  if (e === undefined) return p.blockForMs;
  return { base: p.blockForMs, factor: e.factor, max: e.maxMs, forgetAfter: e.forgetAfterMs };
}

function positive(v: unknown, option: string, problems: ProblemList): number | undefined {
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0 || ms > MAX_POLICY_MS) {
    problems.add(option, v, POSITIVE_FORM);
    return undefined;
  }
  return ms;
}
