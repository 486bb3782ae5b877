/**
 * How a selection's cost adds up when its type is an interface or a union. On one object only
 * one concrete type applies, so a selection keeps what applies to every type (`cost`) apart
 * from what applies to some types only (`perType`: fragments on a narrower type), and costs
 * `cost` + the most expensive type's share: the tight upper bound, not the sum of the branches.
 * Shared by the static walk (analyze) and the data walk (actualCost).
 */
import type { GqlSchema } from "./analysis-ast.js";
import { add } from "./analysis-costs.js";
import { isPossible, type TypeInfo } from "./analysis-schema.js";

export type Sums = {
  /** The type of the selection's parent: the objects its selections are on. */
  readonly type: TypeInfo | undefined;
  cost: number;
  perType: Map<TypeInfo, number> | undefined;
  /** The largest value in perType (they only grow: kept here, the total is O(1)). */
  most: number;
};

/** cost + the largest per-type share. */
export function totalOf(cost: number, perType: ReadonlyMap<TypeInfo, number> | undefined): number {
  let most = 0;
  if (perType !== undefined) for (const v of perType.values()) if (v > most) most = v;
  return add(cost, most);
}

/**
 * Adds a fragment's sums (`cost` for all its types, `perType` for some) to the selection it
 * sits in; `targets` are the concrete types it applies to there (undefined: all of them).
 * Returns the selection's total so far (for stopAbove).
 */
export function addBranch(
  schema: GqlSchema,
  into: Sums,
  targets: readonly TypeInfo[] | undefined,
  cost: number,
  perType: ReadonlyMap<TypeInfo, number> | undefined,
): number {
  const parent = into.type;
  if (parent === undefined) {
    into.cost = add(into.cost, totalOf(cost, perType));
  } else if (parent.kind !== "abstract") {
    // On a concrete type only that type's share of the fragment applies.
    into.cost = add(into.cost, add(cost, perType?.get(parent) ?? 0));
  } else if (targets === undefined) {
    into.cost = add(into.cost, cost);
    if (perType !== undefined) {
      for (const [t, v] of perType) if (isPossible(schema, parent, t)) addFor(into, t, v);
    }
  } else {
    for (const t of targets) addFor(into, t, add(cost, perType?.get(t) ?? 0));
  }
  return add(into.cost, into.most);
}

function addFor(into: Sums, t: TypeInfo, cost: number): void {
  let per = into.perType;
  if (per === undefined) {
    per = new Map();
    into.perType = per;
  }
  const v = add(per.get(t) ?? 0, cost);
  per.set(t, v);
  if (v > into.most) into.most = v;
}
