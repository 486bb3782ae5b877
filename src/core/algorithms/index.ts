import type { AlgorithmName } from "../policy.js";
import { fixedWindow } from "./fixed-window.js";
import { gcra } from "./gcra.js";
import { leakyBucket } from "./leaky-bucket.js";
import { slidingLog } from "./sliding-log.js";
import { slidingWindow } from "./sliding-window.js";
import { tokenBucket } from "./token-bucket.js";
import type { LogAlgorithm, RowAlgorithm } from "./types.js";

/** Every algorithm by name; sliding-log is the only one whose state is a log, not a row. */
export const algorithms: {
  readonly [K in AlgorithmName]: K extends "sliding-log" ? LogAlgorithm : RowAlgorithm;
} = {
  "fixed-window": fixedWindow,
  "sliding-window": slidingWindow,
  "sliding-log": slidingLog,
  "token-bucket": tokenBucket,
  gcra,
  "leaky-bucket": leakyBucket,
};

export { judge, pureStep, type StepResult } from "./step.js";
export type { Algorithm, LogAlgorithm, RowAlgorithm, Verdict } from "./types.js";
export { fixedWindow, gcra, leakyBucket, slidingLog, slidingWindow, tokenBucket };
