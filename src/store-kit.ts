/**
 * throttlekit/store: the kernel for people who write a Store (a database, a KV service, an
 * edge runtime's storage). It is what the memory and Redis stores are built on: every
 * algorithm's in-place kernel and pure step, and the two functions that turn per-policy
 * verdicts into a Decision, so a new store picks the same binding policy, reasons and
 * numbers as ours. Application code never needs it: use `throttlekit` and a store factory.
 *
 * A new store proves itself with `storeConformance` from `throttlekit/testing`.
 * docs/store-authors.md walks through a complete store built on `pureStep`.
 */
export {
  type Algorithm,
  algorithms,
  fixedWindow,
  gcra,
  judge,
  type LogAlgorithm,
  leakyBucket,
  pureStep,
  type RowAlgorithm,
  type StepResult,
  slidingLog,
  slidingWindow,
  tokenBucket,
  type Verdict,
} from "./core/algorithms/index.js";
export { combine, type Decision, type PolicyDecision, verdictFree } from "./core/decision.js";
export type { ListEntry, ListEntryInput, ListKind, ListStore } from "./core/list-store.js";
/** How long an escalating policy's next block lasts, from the previous one (stores that remember rows). */
export { nextBlockMs } from "./core/memory/escalations.js";
export type { Escalation, Policy } from "./core/policy.js";
export type {
  ConcurrencyAnswer,
  ConcurrencyBinding,
  Store,
  StoreBinding,
} from "./core/store.js";
