import { ThrottlekitError } from "./throttlekit-error.js";

/** One invalid option: where it is, what was received, and the form that would be accepted. */
export type ConfigProblem = {
  readonly option: string;
  readonly received: unknown;
  readonly expected: string;
};

/**
 * Thrown at construction (never later) when options are invalid. Lists every problem found,
 * not only the first, so one run shows everything to fix.
 */
export class ConfigError extends ThrottlekitError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super("ERR_TK_CONFIG", formatProblems(problems));
    this.name = "ConfigError";
    this.problems = problems;
  }
}

function formatProblems(problems: readonly ConfigProblem[]): string {
  const lines = problems.map(
    (p) => `  - ${p.option}: received ${describe(p.received)}; expected ${p.expected}`,
  );
  return `Invalid throttlekit configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${lines.join("\n")}`;
}

/** Renders a received value so the message shows exactly what went wrong (types included). */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value == null)
    return String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return "a function";
  try {
    const json = JSON.stringify(value);
    return json.length > 120 ? `${json.slice(0, 117)}...` : json;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Collects problems during validation, then throws them all at once. */
export class ProblemList {
  readonly items: ConfigProblem[] = [];

  add(option: string, received: unknown, expected: string): void {
    this.items.push({ option, received, expected });
  }

  /**
   * Reports every own key of `options` that is not in `known`, as `<where>.<key>` (or `<key>`
   * when `where` is empty). The one unknown-option check every factory uses.
   */
  unknownKeys(options: object, known: readonly string[], where = ""): void {
    for (const key of Object.keys(options)) {
      if (!known.includes(key)) {
        this.add(
          where === "" ? key : `${where}.${key}`,
          (options as Record<string, unknown>)[key],
          `one of the known options: ${known.join(", ")}`,
        );
      }
    }
  }

  throwIfAny(): void {
    if (this.items.length > 0) throw new ConfigError(this.items);
  }
}
