/**
 * The document side of the analysis: which operation runs, its fragments, and the values the
 * walk reads from arguments (list sizes) and directives (@skip/@include), with variables
 * resolved the way graphql-js resolves them. Argument values are read one level deep only
 * (a size argument is an Int): no input object or variable value is ever walked, so deeply
 * nested ones cost nothing.
 */
import type {
  ArgumentNode,
  FragmentNode,
  OperationNode,
  SelectionNode,
  ValueNode,
} from "./analysis-ast.js";
import { literalNumber } from "./analysis-ast.js";
import { MAX_COST } from "./analysis-costs.js";

type DocumentInfo = {
  readonly operations: readonly OperationNode[];
  readonly fragments: ReadonlyMap<string, FragmentNode>;
  /** Each operation's variable defaults, by variable name (read on first need). */
  readonly defaults: WeakMap<OperationNode, ReadonlyMap<string, ValueNode>>;
};

// Servers cache parsed documents (Yoga, Apollo, Mercurius), so the same DocumentNode comes back:
// its operations and fragments are indexed once.
const documents = new WeakMap<object, DocumentInfo>();

function documentInfo(document: unknown, where: string): DocumentInfo {
  const definitions = (document as { definitions?: unknown } | null)?.definitions;
  if (typeof document !== "object" || document === null || !Array.isArray(definitions)) {
    throw new TypeError(`${where}: document must be a parsed DocumentNode`);
  }
  let info = documents.get(document);
  if (info === undefined) {
    const operations: OperationNode[] = [];
    const fragments = new Map<string, FragmentNode>();
    for (const d of definitions as readonly { kind?: unknown }[]) {
      if (d?.kind === "OperationDefinition") operations.push(d as OperationNode);
      else if (d?.kind === "FragmentDefinition") {
        const f = d as FragmentNode;
        // The first definition wins, as graphql-js's execution keeps it (a duplicate is invalid).
        if (!fragments.has(f.name.value)) fragments.set(f.name.value, f);
      }
    }
    info = { operations, fragments, defaults: new WeakMap() };
    documents.set(document, info);
  }
  return info;
}

/** What a walk needs from the document for one operation. */
export type Selected = {
  /** undefined when no operation can be selected (execution would refuse it: nothing runs). */
  readonly operation: OperationNode | undefined;
  readonly fragments: ReadonlyMap<string, FragmentNode>;
  readonly values: Values;
};

/** The operation graphql-js would execute: the named one, or the only one. */
export function selectOperation(
  document: unknown,
  operationName: string | null | undefined,
  variables: Readonly<Record<string, unknown>> | null | undefined,
  where: string,
): Selected {
  const info = documentInfo(document, where);
  let operation: OperationNode | undefined;
  if (operationName != null) {
    operation = info.operations.find((o) => o.name?.value === operationName);
  } else if (info.operations.length === 1) {
    operation = info.operations[0];
  }
  let defaults: ReadonlyMap<string, ValueNode> | undefined;
  if (operation !== undefined) {
    defaults = info.defaults.get(operation);
    if (defaults === undefined) {
      const map = new Map<string, ValueNode>();
      for (const v of operation.variableDefinitions ?? []) {
        if (v.defaultValue !== undefined) map.set(v.variable.name.value, v.defaultValue);
      }
      info.defaults.set(operation, map);
      defaults = map;
    }
  }
  return {
    operation,
    fragments: info.fragments,
    values: new Values(variables ?? undefined, defaults),
  };
}

/**
 * Reads argument values, variables resolved (given value, else the operation's default).
 * Inside a fragment that declares its own variables (graphql 17's fragment arguments,
 * `...F(n: 3)`), those names resolve to the spread's arguments, else the fragment's defaults;
 * other names, and every name in a fragment without variables, to the operation's.
 */
export class Values {
  constructor(
    private readonly variables: Readonly<Record<string, unknown>> | undefined,
    private readonly defaults: ReadonlyMap<string, ValueNode> | undefined,
    /** A fragment's own variables, already resolved (undefined: absent). */
    private readonly local?: ReadonlyMap<string, unknown>,
  ) {}

  /** The values inside `fragment`, spread by `spread` here (its arguments read in this scope). */
  scoped(fragment: FragmentNode, spread: SelectionNode): Values {
    const local = new Map<string, unknown>();
    for (const v of fragment.variableDefinitions ?? []) {
      const name = v.variable.name.value;
      const arg = spread.arguments?.find((a) => a.name.value === name);
      let value = arg === undefined ? undefined : this.valueOf(arg.value);
      if (value === undefined && v.defaultValue !== undefined) value = this.valueOf(v.defaultValue);
      local.set(name, value);
    }
    return new Values(this.variables, this.defaults, local);
  }

  /** A literal's or variable's value, as far as numbers, booleans and null go. */
  private valueOf(node: ValueNode): unknown {
    if (node.kind === "Variable") {
      const name = node.name?.value ?? "";
      if (this.local?.has(name)) return this.local.get(name);
      const vars = this.variables;
      if (vars !== undefined && Object.hasOwn(vars, name) && vars[name] !== undefined)
        return vars[name];
      const d = this.defaults?.get(name);
      return d === undefined ? undefined : this.valueOf(d);
    }
    if (node.kind === "BooleanValue") return node.value;
    if (node.kind === "NullValue") return null;
    return literalNumber(node);
  }

  /**
   * False when graphql-js would leave the selection out: @skip(if: true) or @include(if: false).
   * A condition it cannot read (a missing or non-boolean variable) keeps the selection: the
   * cost stays an upper bound.
   */
  included(node: SelectionNode): boolean {
    const directives = node.directives;
    if (directives === undefined || directives.length === 0) return true;
    for (const d of directives) {
      const name = d.name.value;
      if (name !== "skip" && name !== "include") continue;
      const ifArg = d.arguments?.find((a) => a.name.value === "if");
      const v = ifArg === undefined ? undefined : this.valueOf(ifArg.value);
      if (name === "skip" && v === true) return false;
      if (name === "include" && v === false) return false;
    }
    return true;
  }

  /**
   * The list size the field's arguments ask for: the largest usable value among `names`
   * (given in the query, else the schema's default for that argument), or undefined when none
   * is usable. Usable: a finite number >= 0 (rounded up); a negative, fractional-looking or
   * non-numeric value is one execution refuses for an Int, so it bounds nothing.
   */
  size(
    args: readonly ArgumentNode[] | undefined,
    names: readonly string[],
    schemaDefaults: ReadonlyMap<string, number> | undefined,
  ): number | undefined {
    let best: number | undefined;
    for (const name of names) {
      let v: unknown;
      let given = false;
      if (args !== undefined) {
        for (const a of args) {
          if (a.name.value !== name) continue;
          v = this.valueOf(a.value);
          // A variable with no value and no default leaves the argument out: the schema's
          // default applies, as in graphql-js.
          given = v !== undefined;
          break;
        }
      }
      if (!given) v = schemaDefaults?.get(name);
      const n = usable(v);
      if (n !== undefined && (best === undefined || n > best)) best = n;
    }
    return best;
  }
}

function usable(v: unknown): number | undefined {
  if (typeof v !== "number" || Number.isNaN(v) || v < 0) return undefined;
  if (v >= MAX_COST) return MAX_COST;
  return Math.ceil(v);
}
