// STUB (lead, issue 16): helper H1 replaces this file with the real measurement.
import type { CostOptions } from "./types.js";

/**
 * The cost an executed operation really had: the static formula applied to the result's data,
 * with each list field multiplied by the length it actually returned (Shopify's settle).
 */
export function actualCost(
  _schema: unknown,
  _document: unknown,
  _data: unknown,
  _options?: CostOptions & {
    variables?: Readonly<Record<string, unknown>> | null;
    operationName?: string | null;
  },
): number {
  return 1;
}
