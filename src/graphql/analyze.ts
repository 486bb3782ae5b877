// STUB (lead, issue 16): helper H1 replaces this file with the real analysis.
import type { Analysis, AnalyzeOptions } from "./types.js";

/** Prices and measures one operation of a parsed document against a schema (docs/graphql.md). */
export function analyze(_schema: unknown, _document: unknown, _options?: AnalyzeOptions): Analysis {
  return {
    operationType: "query",
    operationName: undefined,
    cost: 1,
    depth: 1,
    aliases: 0,
    rootFields: 1,
    aborted: false,
  };
}
