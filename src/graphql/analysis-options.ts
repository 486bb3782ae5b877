/**
 * analyze's options checked into one ConfigError: the pricing (CostOptions) plus what one call
 * adds (variables, operationName, stopAbove).
 */
import { ProblemList } from "../index.js";
import { COST_OPTION_KEYS, type CostConfig, costConfig } from "./analysis-costs.js";
import type { AnalyzeOptions } from "./types.js";

const KNOWN = [...COST_OPTION_KEYS, "variables", "operationName", "stopAbove"];

/** The validated pricing of `options`, or a thrown ConfigError naming every problem. */
export function checkedAnalyzeOptions(options: AnalyzeOptions): CostConfig {
  const problems = new ProblemList();
  problems.unknownKeys(options, KNOWN);
  const config = costConfig(options, problems);
  const { variables, operationName, stopAbove } = options;
  if (variables != null && (typeof variables !== "object" || Array.isArray(variables))) {
    problems.add("variables", variables, "an object of variable values, or null");
  }
  if (operationName != null && typeof operationName !== "string") {
    problems.add("operationName", operationName, "a string, or null");
  }
  if (stopAbove !== undefined) {
    if (typeof stopAbove !== "object" || stopAbove === null) {
      problems.add("stopAbove", stopAbove, "{ cost?: number, depth?: number }");
    } else {
      problems.unknownKeys(stopAbove, ["cost", "depth"], "stopAbove");
      for (const k of ["cost", "depth"] as const) {
        const v = stopAbove[k];
        if (v !== undefined && !(typeof v === "number" && v >= 0)) {
          problems.add(`stopAbove.${k}`, v, "a number >= 0");
        }
      }
    }
  }
  problems.throwIfAny();
  return config;
}
