/**
 * The static analysis (issue 16, item 1): one pass over the selected operation that prices it
 * (cost), and measures its depth, aliases and root fields, before anything executes.
 *
 * Bounded whatever the document: the walk keeps its own stack (10,000 nested levels are 10,000
 * array slots, not 10,000 native frames), each named fragment is walked once and its result
 * reused at every spread (a fan-out of 2^30 spreads is 60 visits), a fragment cycle is cut,
 * and after NODE_BUDGET visits the walk gives up (`aborted`). docs/graphql.md has the formula.
 */
import type { FragmentNode, GqlSchema, SelectionNode } from "./analysis-ast.js";
import { asSchema } from "./analysis-ast.js";
import {
  add,
  assumedSliceOf,
  type CostConfig,
  defaultSizeOf,
  MAX_COST,
  mul,
  sizedFieldsOf,
  slicingArgumentsOf,
  weightOf,
} from "./analysis-costs.js";
import { selectOperation, type Values } from "./analysis-document.js";
import { checkedAnalyzeOptions } from "./analysis-options.js";
import {
  type FieldInfo,
  fieldInfo,
  metaField,
  narrow,
  rootTypeOf,
  type TypeInfo,
  typeByName,
} from "./analysis-schema.js";
import { addBranch } from "./analysis-sums.js";
import type { Analysis, AnalyzeOptions, OperationType } from "./types.js";

/**
 * Most selections (and fragment fan-out steps) one analysis visits before it stops with
 * `aborted: true` and the cost MAX_COST: far above any real operation (the full introspection
 * query is about 200), low enough that the walk stays within a few milliseconds.
 */
export const NODE_BUDGET = 100_000;

const NONE: readonly string[] = [];
const FIELD = 0;
const BRANCH = 1; // an inline fragment or a fragment's first walk
const ROOT = 2;

/** One selection set being walked: its running totals and how to fold them into its parent. */
class Frame {
  index = 0;
  /** Cost of the selections that apply whatever the concrete type. */
  cost = 0;
  /** Abstract parent: cost of fragments that apply to some concrete types only, by type. */
  perType: Map<TypeInfo, number> | undefined = undefined;
  /** Deepest field below, relative (a field here is 1). */
  depth = 0;
  aliases = 0;
  fields = 0;

  constructor(
    readonly selections: readonly SelectionNode[],
    readonly type: TypeInfo | undefined,
    readonly kind: number,
    /** Product of the list multipliers above: cost here × scale is a lower bound of the total. */
    readonly scale: number,
    /** Depth of a field selected here. */
    readonly level: number,
    /** FIELD: the field's weight, list multiplier, fixed price (introspection) or -1. */
    readonly weight: number,
    readonly multiplier: number,
    readonly fixed: number,
    /** BRANCH: the concrete types it applies to (undefined: all). */
    readonly targets: readonly TypeInfo[] | undefined,
    /** BRANCH: the named fragment being walked, if any. */
    readonly fragment: string | undefined,
    /** How variables read here (a fragment with variables of its own has its own scope). */
    readonly values: Values,
    /** BRANCH: a fragment with variables of its own, walked per spread (not memoised). */
    readonly scoped: boolean,
    /** BRANCH: the key its walk is memoised under (the fragment's name and `slice`). */
    readonly memoKey: string | undefined,
    /**
     * The size the selection's sized fields take (`sizedFields` of a list type), from a size
     * argument on the non-list field that owns it (a connection's `first`), or -1: none.
     */
    readonly slice: number,
    /** The children `slice` sizes (sizedFields, or the connection's `@listSize(sizedFields:)`). */
    readonly sized: readonly string[],
  ) {}

  most = 0;

  total(): number {
    return add(this.cost, this.most);
  }
}

/** A named fragment's walk, reused at each spread (its sums are read, never changed). */
type Memo = {
  readonly cost: number;
  readonly perType: ReadonlyMap<TypeInfo, number> | undefined;
  readonly depth: number;
  readonly aliases: number;
  readonly fields: number;
};

/**
 * Prices and measures one operation of a parsed document against a schema (graphql 16 or 17),
 * without executing anything: no resolver runs, no variable value is walked.
 *
 * cost: each field costs its weight plus, for a field with a selection, its selection's cost
 * multiplied by its list size for each list level of its type (`first`/`last`/`limit`, else
 * `listSizes`, `@cost(defaultListSize:)`, `defaultListSize`; a connection's `nodes`/`edges`
 * take the connection field's `first`/`last`: `sizedFields`); on an interface or union, the
 * most expensive concrete type; fragments count once per use; introspection fields cost
 * `introspectionCost`. The result is an upper bound on the weighted fields execution resolves
 * when lists are no longer than their size (docs/graphql.md, "How cost is computed").
 *
 * Throws ConfigError for invalid options, TypeError for a schema or document of the wrong kind.
 *
 * @example
 * const a = analyze(schema, parse("{ users(first: 10) { friends(first: 5) { name } } }"));
 * // a.cost === 1 + 10 × (1 + 5 × 0) === 11, a.depth === 3
 */
export function analyze(
  schema: unknown,
  document: unknown,
  options: AnalyzeOptions = {},
): Analysis {
  const s = asSchema(schema, "analyze");
  const config = checkedAnalyzeOptions(options);
  const selected = selectOperation(document, options.operationName, options.variables, "analyze");
  const operation = selected.operation;
  if (operation === undefined) {
    // Execution refuses an operation it cannot select ("Must provide operation name", unknown
    // name): nothing runs, so nothing is charged beyond the operation itself.
    return {
      operationType: "query",
      operationName: options.operationName ?? undefined,
      cost: 0,
      depth: 0,
      aliases: 0,
      rootFields: 0,
      aborted: false,
    };
  }
  const operationType = operation.operation as OperationType;
  const root = rootTypeOf(s, operationType);
  const walk = new Walk(s, config, selected.fragments, selected.values, root, options.stopAbove);
  const result = walk.run(operation.selectionSet.selections);
  return { operationType, operationName: operation.name?.value, ...result };
}

class Walk {
  private readonly stack: Frame[] = [];
  private readonly memos = new Map<string, Memo>();
  /** Fragments being walked (a spread of one of them is a cycle). */
  private readonly active = new Set<string>();
  private readonly stopCost: number;
  private readonly stopDepth: number;
  private visits = 0;
  /** Largest lower bound of the cost seen, and deepest field seen (the answer when aborted). */
  private lower = 0;
  private deepest = 0;
  private aborted = false;
  private readonly queryName: string | undefined;

  constructor(
    private readonly schema: GqlSchema,
    private readonly c: CostConfig,
    private readonly fragments: ReadonlyMap<string, FragmentNode>,
    private readonly values: Values,
    private readonly root: TypeInfo | undefined,
    stopAbove: AnalyzeOptions["stopAbove"],
  ) {
    this.stopCost = stopAbove?.cost ?? Number.POSITIVE_INFINITY;
    this.stopDepth = stopAbove?.depth ?? Number.POSITIVE_INFINITY;
    this.queryName = schema.getQueryType()?.name;
  }

  run(selections: readonly SelectionNode[]): Omit<Analysis, "operationType" | "operationName"> {
    const top = new Frame(
      selections,
      this.root,
      ROOT,
      1,
      1,
      0,
      1,
      -1,
      undefined,
      undefined,
      this.values,
      false,
      undefined,
      -1,
      NONE,
    );
    const stack = this.stack;
    stack.push(top);
    while (stack.length > 0 && !this.aborted) {
      const f = stack[stack.length - 1] as Frame;
      const sel = f.selections[f.index++];
      if (sel === undefined) {
        stack.pop();
        const parent = stack[stack.length - 1];
        if (parent !== undefined) this.fold(f, parent);
        continue;
      }
      if (++this.visits > NODE_BUDGET) {
        this.lower = MAX_COST;
        this.aborted = true;
        break;
      }
      if (!f.values.included(sel)) continue;
      if (sel.kind === "Field") this.field(f, sel);
      else if (sel.kind === "InlineFragment") this.inline(f, sel);
      else if (sel.kind === "FragmentSpread") this.spread(f, sel);
    }
    if (this.aborted) {
      return {
        cost: this.lower,
        depth: Math.max(this.deepest, top.depth),
        aliases: top.aliases,
        rootFields: top.fields,
        aborted: true,
      };
    }
    return {
      cost: top.total(),
      depth: top.depth,
      aliases: top.aliases,
      rootFields: top.fields,
      aborted: false,
    };
  }

  private field(f: Frame, sel: SelectionNode): void {
    f.fields++;
    if (sel.alias !== undefined) f.aliases++;
    const level = f.level;
    if (level > this.deepest) this.deepest = level;
    if (level > this.stopDepth) {
      this.aborted = true;
      return;
    }
    if (f.depth < 1) f.depth = 1;
    const name = sel.name?.value ?? "";
    if (name === "__typename") return;
    const parent = f.type;
    let info: FieldInfo | undefined;
    let fixed = -1;
    // graphql-js resolves __schema and __type on the query type only (wherever it is selected).
    if (
      (name === "__schema" || name === "__type") &&
      parent !== undefined &&
      parent.name === this.queryName
    ) {
      info = metaField(this.schema, parent, name);
      fixed = this.c.introspectionCost;
    } else if (parent !== undefined) {
      info = fieldInfo(this.schema, parent, name);
    }
    const children = sel.selectionSet?.selections;
    // A field the schema does not know makes the document invalid (it never executes); it is
    // still walked, priced by its shape, so depth and aliases stay honest.
    const weight =
      fixed >= 0
        ? 0
        : info !== undefined
          ? weightOf(info, this.c)
          : children !== undefined
            ? this.c.objectCost
            : this.c.scalarCost;
    if (children === undefined || children.length === 0) {
      this.addCommon(f, fixed >= 0 ? fixed : weight);
      return;
    }
    let multiplier = 1;
    let slice = -1;
    let sized = NONE;
    if (info !== undefined && fixed < 0) {
      const own = f.values.size(sel.arguments, slicingArgumentsOf(info, this.c), info.argDefaults);
      if (info.listDepth > 0) {
        // A connection's `first` sizes its `nodes`/`edges` (GitHub, the GraphQL cost spec's
        // sizedFields); their own argument, if any, can only make the page larger.
        const size =
          f.slice >= 0 && f.sized.includes(name)
            ? Math.max(f.slice, own ?? 0)
            : (own ?? defaultSizeOf(info, this.c));
        for (let i = 0; i < info.listDepth; i++) multiplier = mul(multiplier, size);
      } else {
        const size = own ?? assumedSliceOf(info, this.c);
        if (size !== undefined) {
          slice = size;
          sized = sizedFieldsOf(info, this.c);
        }
      }
    }
    // Under an introspection field nothing adds to the cost (its price is fixed): scale 0.
    const scale = fixed >= 0 ? 0 : mul(f.scale, multiplier);
    this.stack.push(
      new Frame(
        children,
        info?.named,
        FIELD,
        scale,
        level + 1,
        weight,
        multiplier,
        fixed,
        undefined,
        undefined,
        f.values,
        false,
        undefined,
        slice,
        sized,
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
      if (t === undefined) return; // an unknown type condition never matches
      const n = narrow(this.schema, f.type, t);
      if (n === null) return;
      type = t;
      targets = n;
    }
    this.stack.push(
      new Frame(
        children,
        type,
        BRANCH,
        f.scale,
        f.level,
        0,
        1,
        -1,
        targets,
        undefined,
        f.values,
        false,
        undefined,
        f.slice,
        f.sized,
      ),
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
    if (this.active.has(name)) return; // a cycle: an invalid document, never executed
    // The walk depends on the slice its sized fields take: one memo per fragment and slice.
    const key = f.slice < 0 ? name : `${name}#${f.slice}#${f.sized.join(",")}`;
    const memo = this.memos.get(key);
    if (memo !== undefined) {
      const deepest = f.level - 1 + memo.depth;
      if (deepest > this.deepest) this.deepest = deepest;
      if (deepest > this.stopDepth) {
        this.aborted = true;
        return;
      }
      this.merge(f, memo.depth, memo.aliases, memo.fields);
      this.addBranch(f, targets, memo.cost, memo.perType);
      return;
    }
    this.active.add(name);
    // As in graphql-js, a fragment reads the operation's variables, or its own when it declares
    // some; those depend on the spread's arguments, so such a fragment is walked per spread
    // (the node budget still bounds it).
    const scoped = (def.variableDefinitions?.length ?? 0) > 0;
    const values = scoped ? f.values.scoped(def, sel) : this.values;
    this.stack.push(
      new Frame(
        def.selectionSet.selections,
        type,
        BRANCH,
        f.scale,
        f.level,
        0,
        1,
        -1,
        targets,
        name,
        values,
        scoped,
        key,
        f.slice,
        f.sized,
      ),
    );
  }

  private fold(f: Frame, parent: Frame): void {
    if (f.kind === FIELD) {
      if (f.depth + 1 > parent.depth) parent.depth = f.depth + 1;
      parent.aliases = add(parent.aliases, f.aliases);
      const cost = f.fixed >= 0 ? f.fixed : add(f.weight, mul(f.multiplier, f.total()));
      this.addCommon(parent, cost);
      return;
    }
    if (f.fragment !== undefined) this.active.delete(f.fragment);
    if (f.fragment !== undefined && !f.scoped && f.memoKey !== undefined) {
      this.memos.set(f.memoKey, {
        cost: f.cost,
        perType: f.perType,
        depth: f.depth,
        aliases: f.aliases,
        fields: f.fields,
      });
    }
    this.merge(parent, f.depth, f.aliases, f.fields);
    this.addBranch(parent, f.targets, f.cost, f.perType);
  }

  private merge(parent: Frame, depth: number, aliases: number, fields: number): void {
    if (depth > parent.depth) parent.depth = depth;
    parent.aliases = add(parent.aliases, aliases);
    parent.fields = add(parent.fields, fields);
  }

  /** Adds a field's cost to the selection it is in (it applies whatever the concrete type). */
  private addCommon(f: Frame, cost: number): void {
    if (cost === 0) return;
    f.cost = add(f.cost, cost);
    this.check(f, f.total());
  }

  private addBranch(
    f: Frame,
    targets: readonly TypeInfo[] | undefined,
    cost: number,
    perType: ReadonlyMap<TypeInfo, number> | undefined,
  ): void {
    if (cost === 0 && (perType === undefined || perType.size === 0)) return;
    // Per-type sums are work proportional to the types touched: the budget counts it.
    this.visits += targets?.length ?? perType?.size ?? 0;
    this.check(f, addBranch(this.schema, f, targets, cost, perType));
  }

  /** The total must be at least value × scale: stop when that passes stopAbove.cost. */
  private check(f: Frame, value: number): void {
    const bound = mul(value, f.scale);
    if (bound > this.lower) {
      this.lower = bound;
      if (bound > this.stopCost) this.aborted = true;
    }
  }
}
