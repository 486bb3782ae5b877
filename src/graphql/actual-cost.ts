/**
 * The actual cost (issue 16, item 3, Shopify's settle): the static formula applied to an
 * executed operation's `data`, each list field counted for the items it really returned.
 *
 * Same weights, same walk as `analyze` (its own stack, @skip/@include, the most expensive
 * concrete type on interfaces and unions, introspection at its fixed price), but a field counts
 * only when its response key is in the data, and a list's selection is summed over its items
 * instead of multiplied by a size. So when every list returned at most the size the analysis
 * assumed, actual ≤ static, and with all weights 1 it is the number of fields resolved. No size
 * enters this walk, so the rules that pick sizes (a connection's `first` sizing its `nodes` and
 * `edges`: sizedFields, `@listSize`) need nothing here: a connection's nodes count as returned.
 */
import type { FragmentNode, GqlSchema, SelectionNode } from "./analysis-ast.js";
import { asSchema } from "./analysis-ast.js";
import {
  add,
  COST_OPTION_KEYS,
  type CostConfig,
  checkedCostConfig,
  weightOf,
} from "./analysis-costs.js";
import { selectOperation, type Values } from "./analysis-document.js";
import { fieldInfo, narrow, rootTypeOf, type TypeInfo, typeByName } from "./analysis-schema.js";
import { addBranch } from "./analysis-sums.js";
import { analyze } from "./analyze.js";
import type { CostOptions } from "./types.js";

/**
 * Most selection visits (one per selection per data object) before the walk gives up and the
 * static cost stands: a response is already built, so this is far above the analysis's budget.
 */
export const ACTUAL_BUDGET = 1_000_000;

const KNOWN = [...COST_OPTION_KEYS, "variables", "operationName"];

type Data = Readonly<Record<string, unknown>>;
const FIELD = 0;
const BRANCH = 1;
const ROOT = 2;

class Frame {
  index = 0;
  cost = 0;
  perType: Map<TypeInfo, number> | undefined = undefined;
  /** FIELD: the items walked so far, summed. */
  sum = 0;
  item = 0;

  constructor(
    readonly selections: readonly SelectionNode[],
    readonly type: TypeInfo | undefined,
    public data: Data,
    readonly kind: number,
    /** FIELD: its weight and the objects it returned (lists flattened, nulls left out). */
    readonly weight: number,
    readonly items: readonly Data[] | undefined,
    readonly targets: readonly TypeInfo[] | undefined,
    readonly fragment: string | undefined,
    /** How variables read here; a fragment with variables of its own is `scoped` (see analyze). */
    readonly values: Values,
    readonly scoped: boolean,
  ) {}

  most = 0;

  total(): number {
    return add(this.cost, this.most);
  }
}

/** A fragment's sums on one object; IN_PROGRESS while it is being walked (a cycle is cut). */
type Memo = { readonly cost: number; readonly perType: ReadonlyMap<TypeInfo, number> | undefined };
const IN_PROGRESS: Memo = { cost: 0, perType: undefined };

/**
 * The cost an executed operation really had: the static formula applied to the result's data,
 * with each list field counted for the items it returned (Shopify's settle). Never more than
 * `analyze`'s cost when resolvers return at most the list sizes it assumed.
 *
 * With no data (null, as when a non-null root field failed), or data too large to walk within
 * ACTUAL_BUDGET, it returns the static cost: no refund for work that may have run unseen.
 * A response with errors may hide resolved work behind nulls; settle those with the static cost.
 *
 * @example
 * const result = await execute({ schema, document, variableValues });
 * if (result.errors === undefined) await admitted.settle(actualCost(schema, document, result.data, { variables }));
 */
export function actualCost(
  schema: unknown,
  document: unknown,
  data: unknown,
  options: CostOptions & {
    variables?: Readonly<Record<string, unknown>> | null;
    operationName?: string | null;
  } = {},
): number {
  const s = asSchema(schema, "actualCost");
  const config = checkedCostConfig(options, KNOWN);
  const selected = selectOperation(
    document,
    options.operationName,
    options.variables,
    "actualCost",
  );
  const operation = selected.operation;
  if (operation === undefined) return 0;
  const staticCost = () => analyze(schema, document, options).cost;
  if (typeof data !== "object" || data === null || Array.isArray(data)) return staticCost();
  const root = rootTypeOf(s, operation.operation);
  const walk = new DataWalk(s, config, selected.fragments, selected.values);
  const cost = walk.run(operation.selectionSet.selections, root, data as Data);
  return cost ?? staticCost();
}

class DataWalk {
  private readonly stack: Frame[] = [];
  /** Each fragment's cost on each object it was spread on (a repeated spread is walked once). */
  private readonly memos = new Map<string, Map<Data, Memo>>();
  private readonly queryName: string | undefined;
  private visits = 0;

  constructor(
    private readonly schema: GqlSchema,
    private readonly c: CostConfig,
    private readonly fragments: ReadonlyMap<string, FragmentNode>,
    private readonly values: Values,
  ) {
    this.queryName = schema.getQueryType()?.name;
  }

  /** The cost, or undefined when the budget ran out. */
  run(
    selections: readonly SelectionNode[],
    root: TypeInfo | undefined,
    data: Data,
  ): number | undefined {
    const top = new Frame(
      selections,
      root,
      data,
      ROOT,
      0,
      undefined,
      undefined,
      undefined,
      this.values,
      false,
    );
    const stack = this.stack;
    stack.push(top);
    while (stack.length > 0) {
      const f = stack[stack.length - 1] as Frame;
      const sel = f.selections[f.index++];
      if (sel === undefined) {
        if (f.kind === FIELD && f.items !== undefined) {
          // One item done: add it, go on with the next object of the list.
          f.sum = add(f.sum, f.total());
          const next = f.items[++f.item];
          if (next !== undefined) {
            f.data = next;
            f.index = 0;
            f.cost = 0;
            f.perType = undefined;
            f.most = 0;
            continue;
          }
        }
        stack.pop();
        const parent = stack[stack.length - 1];
        if (parent !== undefined) this.fold(f, parent);
        continue;
      }
      if (++this.visits > ACTUAL_BUDGET) return undefined;
      if (!f.values.included(sel)) continue;
      if (sel.kind === "Field") this.field(f, sel);
      else if (sel.kind === "InlineFragment") this.inline(f, sel);
      else if (sel.kind === "FragmentSpread") this.spread(f, sel);
    }
    return top.total();
  }

  private field(f: Frame, sel: SelectionNode): void {
    const name = sel.name?.value ?? "";
    const key = sel.alias?.value ?? name;
    // Not in the data: skipped, on another concrete type, or never reached. Nothing resolved.
    if (name === "__typename" || !Object.hasOwn(f.data, key)) return;
    const value = f.data[key];
    const parent = f.type;
    if (
      (name === "__schema" || name === "__type") &&
      parent !== undefined &&
      parent.name === this.queryName
    ) {
      this.addCommon(f, this.c.introspectionCost);
      return;
    }
    const info = parent === undefined ? undefined : fieldInfo(this.schema, parent, name);
    const children = sel.selectionSet?.selections;
    const weight =
      info !== undefined
        ? weightOf(info, this.c)
        : children !== undefined
          ? this.c.objectCost
          : this.c.scalarCost;
    const items: Data[] = [];
    if (children !== undefined && children.length > 0) collect(value, info?.listDepth ?? 0, items);
    const first = items[0];
    if (first === undefined || children === undefined) {
      this.addCommon(f, weight);
      return;
    }
    this.stack.push(
      new Frame(
        children,
        info?.named,
        first,
        FIELD,
        weight,
        items,
        undefined,
        undefined,
        f.values,
        false,
      ),
    );
  }

  private inline(f: Frame, sel: SelectionNode): void {
    const children = sel.selectionSet?.selections;
    if (children === undefined) return;
    const condition = sel.typeCondition?.name.value;
    let type = f.type;
    let targets: readonly TypeInfo[] | undefined;
    if (condition !== undefined) {
      const t = typeByName(this.schema, condition);
      if (t === undefined) return;
      const n = narrow(this.schema, f.type, t);
      if (n === null) return;
      type = t;
      targets = n;
    }
    this.stack.push(
      new Frame(children, type, f.data, BRANCH, 0, undefined, targets, undefined, f.values, false),
    );
  }

  private spread(f: Frame, sel: SelectionNode): void {
    const name = sel.name?.value ?? "";
    const def = this.fragments.get(name);
    if (def === undefined) return;
    const type = typeByName(this.schema, def.typeCondition.name.value);
    if (type === undefined) return;
    const targets = narrow(this.schema, f.type, type);
    if (targets === null) return;
    let memo = this.memos.get(name);
    if (memo === undefined) {
      memo = new Map();
      this.memos.set(name, memo);
    }
    const known = memo.get(f.data);
    if (known === IN_PROGRESS) return; // a cycle: an invalid document, never executed
    if (known !== undefined) {
      this.addBranch(f, targets, known.cost, known.perType);
      return;
    }
    memo.set(f.data, IN_PROGRESS);
    const scoped = (def.variableDefinitions?.length ?? 0) > 0;
    const values = scoped ? f.values.scoped(def, sel) : this.values;
    this.stack.push(
      new Frame(
        def.selectionSet.selections,
        type,
        f.data,
        BRANCH,
        0,
        undefined,
        targets,
        name,
        values,
        scoped,
      ),
    );
  }

  private fold(f: Frame, parent: Frame): void {
    if (f.kind === FIELD) {
      this.addCommon(parent, add(f.weight, f.sum));
      return;
    }
    if (f.fragment !== undefined && f.scoped) this.memos.get(f.fragment)?.delete(f.data);
    else if (f.fragment !== undefined) {
      this.memos.get(f.fragment)?.set(f.data, { cost: f.cost, perType: f.perType });
    }
    this.addBranch(parent, f.targets, f.cost, f.perType);
  }

  private addCommon(f: Frame, cost: number): void {
    f.cost = add(f.cost, cost);
  }

  private addBranch(
    f: Frame,
    targets: readonly TypeInfo[] | undefined,
    cost: number,
    perType: ReadonlyMap<TypeInfo, number> | undefined,
  ): void {
    if (cost === 0 && (perType === undefined || perType.size === 0)) return;
    this.visits += targets?.length ?? perType?.size ?? 0;
    addBranch(this.schema, f, targets, cost, perType);
  }
}

/** The objects of a field's value, `depth` list levels flattened, nulls left out. */
function collect(value: unknown, depth: number, out: Data[]): void {
  if (value === null || typeof value !== "object") return;
  if (!Array.isArray(value)) {
    out.push(value as Data);
    return;
  }
  // Recursion bounded by the schema's list nesting (a handful); an array deeper than the type
  // says is no shape execution produces, and resolved nothing.
  if (depth === 0) return;
  for (const v of value) collect(v, depth - 1, out);
}
