/**
 * The pricing options (CostOptions) checked into one ConfigError, and the two lookups the walks
 * make per field: its weight and the size of its lists when no argument gives one.
 */
import { ConfigError, ProblemList } from "../index.js";
import type { FieldInfo, ListSize } from "./analysis-schema.js";
import { readDirective } from "./analysis-schema.js";
import type { CostOptions } from "./types.js";

/** Every CostOptions key (the limiter passes these on to `analyze`). */
export const COST_OPTION_KEYS = [
  "costs",
  "objectCost",
  "scalarCost",
  "listSizeArguments",
  "sizedFields",
  "defaultListSize",
  "listSizes",
  "costDirective",
  "introspectionCost",
] as const;

/** The largest cost the analysis reports: sums and products saturate here, never Infinity. */
export const MAX_COST = Number.MAX_SAFE_INTEGER;

/** The options, validated, with their defaults. */
export type CostConfig = {
  /** Null-prototype copy of `costs`, or undefined when empty (the common case: no lookups). */
  readonly costs: Readonly<Record<string, number>> | undefined;
  readonly listSizes: Readonly<Record<string, number>> | undefined;
  readonly objectCost: number;
  readonly scalarCost: number;
  readonly listSizeArguments: readonly string[];
  /** Child fields a size argument on a non-list field sizes (a connection's edges and nodes). */
  readonly sizedFields: readonly string[];
  readonly defaultListSize: number;
  readonly costDirective: string;
  readonly introspectionCost: number;
};

const DEFAULT_ARGUMENTS: readonly string[] = Object.freeze(["first", "last", "limit"]);
const DEFAULT_SIZED: readonly string[] = Object.freeze(["edges", "nodes"]);
const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;
const WEIGHT_FORM = "a finite number >= 0";
const MAP_FORM = 'an object of "Type.field" | "Type.*" | "*.field" → number';
const KEY_FORM = '"Type.field", "Type.*" or "*.field" (GraphQL names)';

// Maps are checked and copied once per object: the limiter passes the same `costs` on every call.
const checkedMaps = new WeakMap<object, Readonly<Record<string, number>> | undefined>();

/** Adds every problem of the CostOptions in `options` (other keys are the caller's to check). */
export function costOptionProblems(
  options: Readonly<Record<string, unknown>>,
  problems: ProblemList,
): void {
  for (const name of ["objectCost", "scalarCost", "introspectionCost"] as const) {
    const v = options[name];
    if (v !== undefined && !isWeight(v)) problems.add(name, v, WEIGHT_FORM);
  }
  const size = options.defaultListSize;
  if (size !== undefined && !isSize(size)) problems.add("defaultListSize", size, "an integer >= 0");
  mapProblems("costs", options.costs, isWeight, WEIGHT_FORM, problems);
  mapProblems("listSizes", options.listSizes, isSize, "an integer >= 0", problems);
  for (const [name, form] of [
    ["listSizeArguments", "an array of argument names"],
    ["sizedFields", "an array of field names"],
  ] as const) {
    const names = options[name];
    if (
      names !== undefined &&
      !(Array.isArray(names) && names.every((a) => typeof a === "string" && NAME.test(a)))
    ) {
      problems.add(name, names, form);
    }
  }
  const directive = options.costDirective;
  if (directive !== undefined && !(typeof directive === "string" && NAME.test(directive))) {
    problems.add("costDirective", directive, "a directive name (without @)");
  }
}

function mapProblems(
  option: string,
  value: unknown,
  valid: (v: unknown) => boolean,
  form: string,
  problems: ProblemList,
): void {
  if (value === undefined) return;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    problems.add(option, value, MAP_FORM);
    return;
  }
  if (checkedMaps.has(value)) return;
  let bad = false;
  for (const [key, v] of Object.entries(value)) {
    const [type, field, extra] = key.split(".");
    const keyOk =
      extra === undefined &&
      type !== undefined &&
      field !== undefined &&
      (type === "*" || NAME.test(type)) &&
      (field === "*" || NAME.test(field)) &&
      !(type === "*" && field === "*");
    if (!keyOk) {
      problems.add(`${option}["${key}"]`, key, KEY_FORM);
      bad = true;
    }
    if (!valid(v)) {
      problems.add(`${option}["${key}"]`, v, form);
      bad = true;
    }
  }
  if (!bad) checkedMaps.set(value, copyOf(value as Record<string, number>));
}

function copyOf(
  map: Readonly<Record<string, number>>,
): Readonly<Record<string, number>> | undefined {
  const keys = Object.keys(map);
  if (keys.length === 0) return undefined;
  // Null prototype: a key like "constructor.x" never reads Object.prototype.
  const copy: Record<string, number> = Object.create(null);
  for (const k of keys) copy[k] = map[k] as number;
  return copy;
}

function isWeight(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0;
}

function isSize(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** The validated config; `problems` must be thrown by the caller when not empty. */
export function costConfig(options: CostOptions, problems: ProblemList): CostConfig {
  costOptionProblems(options as Readonly<Record<string, unknown>>, problems);
  const costs = options.costs === undefined ? undefined : checkedMaps.get(options.costs);
  const listSizes =
    options.listSizes === undefined ? undefined : checkedMaps.get(options.listSizes);
  const objectCost = options.objectCost ?? 1;
  const scalarCost = options.scalarCost ?? 0;
  const listSizeArguments = options.listSizeArguments ?? DEFAULT_ARGUMENTS;
  const sizedFields = options.sizedFields ?? DEFAULT_SIZED;
  const defaultListSize = options.defaultListSize ?? 10;
  const costDirective = options.costDirective ?? "cost";
  const introspectionCost = options.introspectionCost ?? 100;
  // A server prices every operation with the same options (in a new object each time, with its
  // variables): the same config comes back, so the weights cached on each field keep serving.
  const l = last;
  if (
    l !== undefined &&
    l.costs === costs &&
    l.listSizes === listSizes &&
    l.objectCost === objectCost &&
    l.scalarCost === scalarCost &&
    l.listSizeArguments === listSizeArguments &&
    l.sizedFields === sizedFields &&
    l.defaultListSize === defaultListSize &&
    l.costDirective === costDirective &&
    l.introspectionCost === introspectionCost
  ) {
    return l;
  }
  last = {
    costs,
    listSizes,
    objectCost,
    scalarCost,
    listSizeArguments,
    sizedFields,
    defaultListSize,
    costDirective,
    introspectionCost,
  };
  return last;
}

let last: CostConfig | undefined;

/** The validated config of `options`, or a thrown ConfigError naming every problem. */
export function checkedCostConfig(options: CostOptions, known: readonly string[]): CostConfig {
  const problems = new ProblemList();
  problems.unknownKeys(options, known);
  const config = costConfig(options, problems);
  problems.throwIfAny();
  return config;
}

/**
 * A field's weight: costs["Type.field"] > costs["Type.*"] > costs["*.field"] > the schema's
 * `@cost(weight:)` (or `extensions.cost`) > objectCost / scalarCost by the field's type.
 */
export function weightOf(f: FieldInfo, c: CostConfig): number {
  if (f.weightFor === c) return f.weight;
  let w = ownWeight(f, c);
  // Selected through an interface: the most any implementation weighs (see FieldInfo).
  if (f.implementations !== undefined) {
    for (const impl of f.implementations) w = Math.max(w, ownWeight(impl, c));
  }
  f.weightFor = c;
  f.weight = w;
  return w;
}

function ownWeight(f: FieldInfo, c: CostConfig): number {
  const costs = c.costs;
  if (costs !== undefined) {
    const w = costs[f.key] ?? costs[f.typeKey] ?? costs[f.anyKey];
    if (w !== undefined) return w;
  }
  readDirective(f, c.costDirective);
  const d = f.directiveWeight ?? f.extensionWeight;
  if (d !== undefined) return checkedSchemaValue(d, f, c, "weight");
  return f.named === undefined || f.named.kind === "leaf" ? c.scalarCost : c.objectCost;
}

/**
 * The size of a list field no argument bounds: listSizes["Type.field" | "Type.*" | "*.field"] >
 * `@cost(defaultListSize:)` (or `extensions.cost.defaultListSize`) > defaultListSize.
 */
export function defaultSizeOf(f: FieldInfo, c: CostConfig): number {
  let size = ownSize(f, c);
  if (f.implementations !== undefined) {
    for (const impl of f.implementations) size = Math.max(size, ownSize(impl, c));
  }
  return size;
}

function ownSize(f: FieldInfo, c: CostConfig): number {
  const sizes = c.listSizes;
  if (sizes !== undefined) {
    const s = sizes[f.key] ?? sizes[f.typeKey] ?? sizes[f.anyKey];
    if (s !== undefined) return s;
  }
  readDirective(f, c.costDirective);
  const d = f.directiveListSize ?? f.extensionListSize;
  if (d !== undefined)
    return Math.min(Math.ceil(checkedSchemaValue(d, f, c, "defaultListSize")), MAX_COST);
  const assumed = assumedOf(f, c);
  return assumed ?? c.defaultListSize;
}

function assumedOf(f: FieldInfo, c: CostConfig): number | undefined {
  const a = f.listSize?.assumedSize;
  if (a === undefined) return undefined;
  return Math.min(Math.ceil(checkedSchemaValue(a, f, c, "assumedSize")), MAX_COST);
}

/**
 * The size a connection (a non-list field) gives its sized fields when no argument does: its
 * `@listSize(assumedSize:)`, only when every type that can resolve it declares one (else some
 * implementation leaves its nodes at their own default, which this cannot bound).
 */
export function assumedSliceOf(f: FieldInfo, c: CostConfig): number | undefined {
  const impls = f.implementations;
  if (impls === undefined) return assumedOf(f, c);
  let most: number | undefined;
  for (const impl of impls) {
    const a = assumedOf(impl, c);
    if (a === undefined) return undefined;
    if (most === undefined || a > most) most = a;
  }
  return most;
}

/**
 * The arguments that size `f`: its `@listSize(slicingArguments:)`, else listSizeArguments;
 * selected through an interface, those of every implementation (any of them may be the one).
 */
export function slicingArgumentsOf(f: FieldInfo, c: CostConfig): readonly string[] {
  return namesOf(f, c.listSizeArguments, (l) => l.slicingArguments);
}

/** The children a size argument on `f` sizes: `@listSize(sizedFields:)`, else sizedFields. */
export function sizedFieldsOf(f: FieldInfo, c: CostConfig): readonly string[] {
  return namesOf(f, c.sizedFields, (l) => l.sizedFields);
}

function namesOf(
  f: FieldInfo,
  fallback: readonly string[],
  read: (l: ListSize) => readonly string[] | undefined,
): readonly string[] {
  const impls = f.implementations;
  const own = f.listSize === undefined ? undefined : read(f.listSize);
  if (impls === undefined) return own ?? fallback;
  // Rare (a @listSize on an interface's implementations): the union, built per use.
  if (own === undefined && impls.every((i) => i.listSize === undefined)) return fallback;
  const out = new Set<string>(own ?? fallback);
  for (const i of impls) for (const n of (i.listSize && read(i.listSize)) ?? fallback) out.add(n);
  return [...out];
}

// A schema's weights are configuration too: a negative or non-finite one is refused loudly (on
// the first operation that meets it) rather than silently replaced by a default.
function checkedSchemaValue(v: number, f: FieldInfo, c: CostConfig, arg: string): number {
  if (Number.isFinite(v) && v >= 0) return v;
  throw new ConfigError([
    {
      option:
        arg === "assumedSize"
          ? `@listSize(assumedSize:) on ${f.key}`
          : `@${c.costDirective}(${arg}:) or extensions.cost on ${f.key}`,
      received: v,
      expected: WEIGHT_FORM,
    },
  ]);
}

/** a + b, saturating at MAX_COST. */
export function add(a: number, b: number): number {
  return Math.min(a + b, MAX_COST);
}

/** a × b, saturating at MAX_COST (0 × anything is 0, even MAX_COST). */
export function mul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return Math.min(a * b, MAX_COST);
}
