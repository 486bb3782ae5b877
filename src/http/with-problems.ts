import { ConfigError, type ConfigProblem } from "../core/errors/config-error.js";

/**
 * Runs a factory and reports an adapter's own option problems together with the factory's, in
 * one ConfigError (adapters add options such as `onError` on top of the HTTP limiter's).
 */
export function withProblems<T>(problems: readonly ConfigProblem[], build: () => T): T {
  let result: T;
  try {
    result = build();
  } catch (error) {
    if (error instanceof ConfigError && problems.length > 0)
      throw new ConfigError([...problems, ...error.problems]);
    throw error;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return result;
}
