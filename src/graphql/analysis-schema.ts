/**
 * What the analysis needs to know about a schema's types and fields, read once per schema and
 * kept in a WeakMap (schemas are long-lived; a dropped schema drops its entry): each named
 * type's kind, each field's list nesting, its argument defaults and its `@cost` directive.
 * Nothing here depends on the caller's options, so the cache is shared by every analysis.
 */
import type { GqlField, GqlSchema, GqlType, ValueNode } from "./analysis-ast.js";
import { literalNumber } from "./analysis-ast.js";

/** object, interface or union (abstract), leaf (scalar, enum), other (input types: never selected). */
export type TypeKind = "object" | "abstract" | "leaf" | "other";

export type TypeInfo = {
  readonly name: string;
  readonly kind: TypeKind;
  readonly type: GqlType;
  /** Fields read so far (object and interface types), null for an unknown name. */
  readonly fields: Map<string, FieldInfo | null>;
  /** Abstract types: the concrete types an operation can meet, read on first need. */
  possible: readonly TypeInfo[] | undefined;
  possibleSet: ReadonlySet<TypeInfo> | undefined;
  /**
   * Abstract types: for a fragment's type condition, the concrete types it narrows this type to
   * (undefined: all of them, so the fragment applies whatever the object; null: none).
   */
  readonly narrowed: Map<TypeInfo, readonly TypeInfo[] | null | undefined>;
};

/**
 * The GraphQL cost spec's `@listSize(assumedSize:, slicingArguments:, sizedFields:)` on a field
 * definition (IBM's "GraphQL Cost Directives"), read once; undefined members were not given.
 */
export type ListSize = {
  readonly assumedSize: number | undefined;
  readonly slicingArguments: readonly string[] | undefined;
  readonly sizedFields: readonly string[] | undefined;
};

export type FieldInfo = {
  readonly name: string;
  /** "Type.field", "Type.*", "*.field": the keys of `costs` and `listSizes`, built once. */
  readonly key: string;
  readonly typeKey: string;
  readonly anyKey: string;
  /** How many List wrappers the field's type has ([[Int]] → 2). */
  readonly listDepth: number;
  /** The unwrapped type, or undefined when the schema does not know it. */
  readonly named: TypeInfo | undefined;
  /** Numeric defaults of the field's arguments (`first: Int = 20`), by argument name. */
  readonly argDefaults: ReadonlyMap<string, number> | undefined;
  /** Code-first weights: `extensions: { cost: 3 }` or `{ cost: { weight, defaultListSize } }`. */
  readonly extensionWeight: number | undefined;
  readonly extensionListSize: number | undefined;
  /** Its `@listSize` directive, if any. */
  readonly listSize: ListSize | undefined;
  /** The `@<directive>(weight:, defaultListSize:)` values, read for `directiveName`. */
  directiveName: string | undefined;
  directiveWeight: number | undefined;
  directiveListSize: number | undefined;
  readonly field: GqlField;
  /**
   * A field of an interface: the same field on each type that implements it. Execution resolves
   * it on the concrete type, whose weight, list size and argument defaults may be larger, so the
   * analysis takes the most of them (the cost stays an upper bound).
   */
  readonly implementations: readonly FieldInfo[] | undefined;
  /** The weight under the config it was computed for (a server keeps one config). */
  weightFor: object | undefined;
  weight: number;
};

type SchemaInfo = {
  readonly byType: Map<GqlType, TypeInfo>;
  readonly byName: Map<string, TypeInfo | null>;
};

const schemas = new WeakMap<object, SchemaInfo>();

function infoOf(schema: GqlSchema): SchemaInfo {
  let info = schemas.get(schema);
  if (info === undefined) {
    info = { byType: new Map(), byName: new Map() };
    schemas.set(schema, info);
  }
  return info;
}

/** The named type's info (cached); `type` must already be unwrapped. */
export function typeInfo(schema: GqlSchema, type: GqlType): TypeInfo {
  const info = infoOf(schema);
  let t = info.byType.get(type);
  if (t === undefined) {
    t = {
      name: type.name ?? "",
      kind: kindOf(type),
      type,
      fields: new Map(),
      possible: undefined,
      possibleSet: undefined,
      narrowed: new Map(),
    };
    info.byType.set(type, t);
  }
  return t;
}

/** A type by name (type conditions, introspection), or undefined when the schema has none. */
export function typeByName(schema: GqlSchema, name: string): TypeInfo | undefined {
  const info = infoOf(schema);
  let t = info.byName.get(name);
  if (t === undefined) {
    const type = schema.getType(name);
    t = type == null ? null : typeInfo(schema, type);
    info.byName.set(name, t);
  }
  return t ?? undefined;
}

// Symbol.toStringTag is how graphql 16 and 17 both name their classes ("GraphQLObjectType",
// ...); unlike `instanceof` it works whichever copy of graphql built the schema.
function tagOf(type: GqlType): string {
  return (type as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] ?? "";
}

function kindOf(type: GqlType): TypeKind {
  switch (tagOf(type)) {
    case "GraphQLObjectType":
      return "object";
    case "GraphQLInterfaceType":
    case "GraphQLUnionType":
      return "abstract";
    case "GraphQLScalarType":
    case "GraphQLEnumType":
      return "leaf";
    default:
      return "other";
  }
}

/** A field of an object or interface type, or undefined when there is no such field. */
export function fieldInfo(
  schema: GqlSchema,
  parent: TypeInfo,
  name: string,
): FieldInfo | undefined {
  let f = parent.fields.get(name);
  if (f === undefined) {
    const def = parent.kind === "other" ? undefined : parent.type.getFields?.()[name];
    f = def === undefined ? null : buildField(schema, parent.name, def);
    if (f !== null && parent.kind === "abstract") {
      const impls: FieldInfo[] = [];
      for (const t of possibleTypes(schema, parent)) {
        const impl = fieldInfo(schema, t, name);
        if (impl !== undefined) impls.push(impl);
      }
      f = { ...f, implementations: impls, argDefaults: mostOf(f.argDefaults, impls) };
    }
    parent.fields.set(name, f);
  }
  return f ?? undefined;
}

/** The introspection meta fields `__schema` and `__type` (on the query root only, as graphql-js). */
export function metaField(
  schema: GqlSchema,
  parent: TypeInfo,
  name: string,
): FieldInfo | undefined {
  const typeName = name === "__schema" ? "__Schema" : "__Type";
  let f = parent.fields.get(name);
  if (f === undefined) {
    const type = schema.getType(typeName);
    f = type == null ? null : buildField(schema, parent.name, { name, type });
    parent.fields.set(name, f);
  }
  return f ?? undefined;
}

function buildField(schema: GqlSchema, parentName: string, def: GqlField): FieldInfo {
  let type = def.type;
  let listDepth = 0;
  for (let tag = tagOf(type); type.ofType !== undefined; tag = tagOf(type)) {
    if (tag === "GraphQLList") listDepth++;
    type = type.ofType;
  }
  const ext = def.extensions?.cost;
  const extObject =
    typeof ext === "object" && ext !== null ? (ext as Record<string, unknown>) : undefined;
  return {
    name: def.name,
    key: `${parentName}.${def.name}`,
    typeKey: `${parentName}.*`,
    anyKey: `*.${def.name}`,
    listDepth,
    named: typeInfo(schema, type),
    argDefaults: argDefaults(def),
    extensionWeight: typeof ext === "number" ? ext : numberOr(extObject?.weight),
    extensionListSize: numberOr(extObject?.defaultListSize),
    listSize: listSizeOf(def),
    directiveName: undefined,
    directiveWeight: undefined,
    directiveListSize: undefined,
    field: def,
    implementations: undefined,
    weightFor: undefined,
    weight: 0,
  };
}

function listSizeOf(def: GqlField): ListSize | undefined {
  for (const d of def.astNode?.directives ?? []) {
    if (d.name.value !== "listSize") continue;
    let assumedSize: number | undefined;
    let slicingArguments: string[] | undefined;
    let sizedFields: string[] | undefined;
    for (const arg of d.arguments ?? []) {
      const name = arg.name.value;
      if (name === "assumedSize") assumedSize = literalNumber(arg.value);
      else if (name === "slicingArguments") slicingArguments = strings(arg.value);
      else if (name === "sizedFields") sizedFields = strings(arg.value);
    }
    return { assumedSize, slicingArguments, sizedFields };
  }
  return undefined;
}

/** A list of string literals (a single string coerces to a one-item list, as for any list input). */
function strings(node: ValueNode): string[] | undefined {
  if (node.kind === "StringValue" && typeof node.value === "string") return [node.value];
  if (node.kind !== "ListValue") return undefined;
  const out: string[] = [];
  for (const v of (node as { values?: readonly ValueNode[] }).values ?? []) {
    if (v.kind === "StringValue" && typeof v.value === "string") out.push(v.value);
  }
  return out;
}

/** Per argument, the largest default among the interface's field and its implementations. */
function mostOf(
  own: ReadonlyMap<string, number> | undefined,
  impls: readonly FieldInfo[],
): ReadonlyMap<string, number> | undefined {
  let out = own === undefined ? undefined : new Map(own);
  for (const impl of impls) {
    for (const [name, v] of impl.argDefaults ?? []) {
      if (out === undefined) out = new Map();
      if (v > (out.get(name) ?? Number.NEGATIVE_INFINITY)) out.set(name, v);
    }
  }
  return out;
}

function numberOr(v: unknown): number | undefined {
  return typeof v === "number" ? v : undefined;
}

function argDefaults(def: GqlField): Map<string, number> | undefined {
  let out: Map<string, number> | undefined;
  for (const arg of def.args ?? []) {
    // graphql 17 keeps a schema default as `default: { value } | { literal }`; 16 as `defaultValue`.
    let v: unknown = arg.default?.value;
    if (v === undefined && arg.default?.literal !== undefined)
      v = literalNumber(arg.default.literal);
    if (v === undefined) v = arg.defaultValue;
    if (typeof v !== "number") continue;
    if (out === undefined) out = new Map();
    out.set(arg.name, v);
  }
  return out;
}

/** Reads `@<name>(weight:, defaultListSize:)` off the field's SDL definition, once per name. */
export function readDirective(f: FieldInfo, name: string): void {
  if (f.directiveName === name) return;
  f.directiveName = name;
  f.directiveWeight = undefined;
  f.directiveListSize = undefined;
  for (const d of f.field.astNode?.directives ?? []) {
    if (d.name.value !== name) continue;
    for (const arg of d.arguments ?? []) {
      const v = numberOf(arg.value);
      if (arg.name.value === "weight") f.directiveWeight = v;
      else if (arg.name.value === "defaultListSize") f.directiveListSize = v;
    }
  }
}

function numberOf(node: ValueNode): number | undefined {
  return literalNumber(node);
}

/** The concrete types of an abstract type (cached). */
export function possibleTypes(schema: GqlSchema, abstract: TypeInfo): readonly TypeInfo[] {
  if (abstract.possible === undefined) {
    abstract.possible = schema.getPossibleTypes(abstract.type).map((t) => typeInfo(schema, t));
  }
  return abstract.possible;
}

/** Whether `t` is one of the abstract type's concrete types (cached). */
export function isPossible(schema: GqlSchema, abstract: TypeInfo, t: TypeInfo): boolean {
  if (abstract.possibleSet === undefined)
    abstract.possibleSet = new Set(possibleTypes(schema, abstract));
  return abstract.possibleSet.has(t);
}

/**
 * Where a fragment on `condition` applies inside a selection on `parent`: undefined (on every
 * object the parent can be), null (on none: it never runs), or the concrete types it narrows to.
 */
export function narrow(
  schema: GqlSchema,
  parent: TypeInfo | undefined,
  condition: TypeInfo,
): readonly TypeInfo[] | null | undefined {
  if (parent === undefined || condition === parent) return undefined;
  if (parent.kind === "object") {
    return condition.kind === "abstract" && schema.isSubType(condition.type, parent.type)
      ? undefined
      : null;
  }
  if (parent.kind !== "abstract") return null;
  if (parent.narrowed.has(condition)) return parent.narrowed.get(condition);
  const all = possibleTypes(schema, parent);
  let hit: TypeInfo[] | null | undefined;
  if (condition.kind === "object") {
    hit = all.includes(condition) ? [condition] : null;
  } else if (condition.kind === "abstract") {
    const some = all.filter((t) => schema.isSubType(condition.type, t.type));
    hit = some.length === 0 ? null : some.length === all.length ? undefined : some;
  } else {
    hit = null;
  }
  parent.narrowed.set(condition, hit);
  return hit;
}

/** The root type of an operation ("query", "mutation", "subscription"), if the schema has it. */
export function rootTypeOf(schema: GqlSchema, operation: string): TypeInfo | undefined {
  const t =
    operation === "mutation"
      ? schema.getMutationType()
      : operation === "subscription"
        ? schema.getSubscriptionType()
        : schema.getQueryType();
  return t == null || t.name === undefined ? undefined : typeByName(schema, t.name);
}
