/** A duration: whole milliseconds as a number, or text such as "500ms", "30s", "1h30m", "1d". */
export type Duration = number | string;

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

/** Human-readable list of accepted units, used in error messages. */
export const DURATION_FORM =
  'whole milliseconds as a number, or text like "500ms", "30s", "5m", "1h", "1d", "1h30m"';

const PART = /(\d+(?:\.\d+)?)\s*([a-z]+)/gy;

/** Milliseconds in one unit word ("min", "hour", "s"...), or undefined for an unknown word. */
export function unitMs(word: string): number | undefined {
  return Object.hasOwn(UNIT_MS, word) ? UNIT_MS[word] : undefined;
}

/**
 * Parses a duration to whole milliseconds; undefined when the input is not a valid duration
 * (the caller turns that into a ConfigError naming its option). Fractions are accepted only
 * when they land on a whole millisecond ("1.5s" yes, "0.5ms" no): every algorithm does exact
 * integer arithmetic on milliseconds.
 */
export function parseDuration(input: unknown): number | undefined {
  if (typeof input === "number") {
    return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  }
  if (typeof input !== "string") return undefined;
  const text = input.trim().toLowerCase();
  if (text === "") return undefined;
  if (/^\d+$/.test(text)) return undefined; // "100" is ambiguous: ms? s? Say which.
  let total = 0;
  let at = 0;
  PART.lastIndex = 0;
  while (at < text.length) {
    PART.lastIndex = at;
    const m = PART.exec(text);
    if (m === null) return undefined;
    const unit = unitMs(m[2]!);
    if (unit === undefined) return undefined;
    total += Number(m[1]) * unit;
    at = PART.lastIndex;
    while (text[at] === " ") at++;
  }
  const rounded = Math.round(total);
  // Reject fractions of a millisecond rather than silently rounding them away.
  if (Math.abs(rounded - total) > 1e-9 || !Number.isSafeInteger(rounded)) return undefined;
  return rounded;
}

/**
 * The longest duration a timer can wait: setTimeout fires at once for anything longer
 * (2^31 − 1 ms, about 24.8 days). Options that become timers (timeouts, refresh intervals,
 * delays) are refused beyond it rather than misfiring.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** The form of a timer duration, for ConfigError messages. */
export const TIMER_DURATION_FORM = `a positive duration of at most 24 days (${MAX_TIMER_MS} ms): ${DURATION_FORM}`;

/**
 * Parses a duration that will be handed to a timer: positive and at most MAX_TIMER_MS;
 * undefined otherwise (the caller reports TIMER_DURATION_FORM).
 */
export function parseTimerDuration(input: unknown): number | undefined {
  const ms = parseDuration(input);
  return ms === undefined || ms <= 0 || ms > MAX_TIMER_MS ? undefined : ms;
}

/** Formats milliseconds compactly ("90s", "1h30m", "250ms"), the inverse of parseDuration. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0ms";
  let rest = ms;
  let out = "";
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  if (rest > 0) out += `${rest}ms`;
  return out;
}
