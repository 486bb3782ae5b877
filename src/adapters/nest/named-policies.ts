import {
  type PolicyInput,
  type PolicyOptions,
  type ProblemList,
  parsePolicies,
} from "../../index.js";
import {
  type DynamicThrottler,
  isThrottlerOverride,
  isThrottlerShape,
  policyOfFields,
  type ThrottlerFields,
  type ThrottlerOptions,
  throttlerFields,
} from "./throttler-compat.js";

/**
 * Throttlers by name: `{ short: "3/s", long: { limit: 100, window: "1m" } }`, or in
 * @nestjs/throttler's shape `{ short: { limit: 3, ttl: 1000 } }` (ttl in ms).
 */
export type NamedPolicies = Readonly<Record<string, PolicyInput | Omit<ThrottlerOptions, "name">>>;

/**
 * A policy input, normalised to options carrying its throttler's name. `dynamic` holds the
 * values @nestjs/throttler-style throttlers compute per request (never passed to the limiter).
 */
export type NamedPolicy = PolicyOptions & {
  readonly name: string;
  readonly dynamic?: DynamicThrottler;
};

/** A @Throttle() override in @nestjs/throttler's shape: some fields of the throttler `name`. */
export type NamedOverride = ThrottlerFields & { readonly name: string };

/**
 * The fields each policy made from @nestjs/throttler's shape was made of, so a @Throttle()
 * override can replace some of them and keep the others (`blockDuration` left unset still
 * follows the new ttl), and a ThrottlerStorage can count it its own way. Kept beside the
 * policy, not on it: the policy goes to the limiter as it is.
 */
const THROTTLER_FIELDS = new WeakMap<NamedPolicy, ThrottlerFields>();

/**
 * A policy from @nestjs/throttler's fields: a sliding log, as @nestjs/throttler 6.7's storage
 * counts (each hit expires `ttl` after it was made).
 */
function throttlerPolicy(
  fields: ThrottlerFields,
  name: string,
  algorithm: "sliding-log" | "fixed-window" = "sliding-log",
): NamedPolicy {
  const p: NamedPolicy = { ...policyOfFields(fields), algorithm, name };
  THROTTLER_FIELDS.set(p, fields);
  return p;
}

/**
 * The fixed-window form of a policy made from @nestjs/throttler's shape (a ThrottlerStorage
 * counts fixed windows), or undefined for a policy in throttlekit's shape.
 */
export function inFixedWindows(p: NamedPolicy): NamedPolicy | undefined {
  const fields = THROTTLER_FIELDS.get(p);
  if (fields === undefined) return undefined;
  return p.algorithm === "fixed-window" ? p : throttlerPolicy(fields, p.name, "fixed-window");
}

/**
 * A @Throttle() override applied to the throttler of its name, field by field, as
 * @nestjs/throttler's guard falls back per field (method, then class, then module):
 * - on a throttler in @nestjs/throttler's shape, the fields given replace its own (an unset
 *   blockDuration still blocks for the resulting ttl);
 * - on one in throttlekit's shape, `limit`, `ttl` (window) and `blockDuration` (blockFor)
 *   replace its own, its algorithm stays, unless the override gives limit and ttl both: then
 *   it replaces the throttler;
 * - with no throttler of that name, an override with limit and ttl adds one for the route;
 *   one without them is ignored, as @nestjs/throttler ignores names the module lacks.
 */
export function applyOverride(
  base: NamedPolicy | undefined,
  override: NamedOverride,
): NamedPolicy | undefined {
  const { name, ...fields } = override;
  const whole = fields.limit !== undefined && fields.ttl !== undefined;
  const own = base === undefined ? undefined : THROTTLER_FIELDS.get(base);
  if (base !== undefined && own !== undefined) {
    const algorithm = base.algorithm === "fixed-window" ? "fixed-window" : "sliding-log";
    return throttlerPolicy({ ...own, ...fields }, name, algorithm);
  }
  if (base === undefined || whole) return whole ? throttlerPolicy(fields, name) : undefined;
  const { dynamic: before, ...policy } = base;
  const dynamic: { -readonly [K in keyof DynamicThrottler]: DynamicThrottler[K] } = {
    ...before,
  };
  const out: { -readonly [K in keyof NamedPolicy]: NamedPolicy[K] } = { ...policy };
  const set = (key: "limit" | "ttl" | "blockDuration", value: ThrottlerFields["limit"]) => {
    if (value === undefined) return;
    if (typeof value === "function") {
      dynamic[key] = value;
      return;
    }
    delete dynamic[key];
    if (key === "limit") out.limit = value;
    else if (key === "ttl") out.window = value;
    else if (value === 0) delete out.blockFor;
    else out.blockFor = value;
  };
  set("limit", fields.limit);
  set("ttl", fields.ttl);
  set("blockDuration", fields.blockDuration);
  if (Object.keys(dynamic).length > 0) out.dynamic = dynamic;
  return out;
}

/**
 * @nestjs/throttler's `[{ name?, ttl, limit, blockDuration? }]` (ttl in ms): sliding logs, as
 * its storage counts, named "default" unless named.
 */
export function throttlerList(
  input: readonly ThrottlerOptions[],
  option: string,
  problems: ProblemList,
): NamedPolicy[] {
  const out: NamedPolicy[] = [];
  const seen = new Set<string>();
  input.forEach((item, i) => {
    const where = `${option}[${i}]`;
    if (!isThrottlerShape(item)) {
      problems.add(where, item, "{ name?, ttl, limit, blockDuration? } (ttl in milliseconds)");
      return;
    }
    const name = item.name ?? "default";
    if (typeof name !== "string" || !NAME.test(name)) {
      problems.add(`${where}.name`, name, NAME_FORM);
      return;
    }
    if (seen.has(name)) {
      problems.add(`${where}.name`, name, "a name no other throttler has");
      return;
    }
    seen.add(name);
    out.push(throttlerPolicy(throttlerFields(item, where, problems, false), name));
  });
  if (input.length === 0) problems.add(option, input, "at least one throttler");
  return out;
}

/** Throttler names end up in store keys and headers (as sf-strings): keep them plain. */
const NAME = /^[\w.:/-]{1,64}$/;
const NAME_FORM = "a name of 1 to 64 characters: letters, digits, _ . : / -";

/**
 * True when `value` is a record of named policies rather than one policy object: a policy
 * object has a numeric `limit` and a `window`.
 */
export function isNamedPolicies(value: unknown): value is NamedPolicies {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const o = value as Record<string, unknown>;
  return !(typeof o.limit === "number" && o.window !== undefined);
}

/**
 * Validates named policies (every problem into `problems`) and returns them with their names
 * applied: a string "3/s" under `short` becomes `{ limit: 3, window: 1000, name: "short" }`.
 */
export function namePolicies(
  input: NamedPolicies,
  option: string,
  problems: ProblemList,
): NamedPolicy[] {
  const out: NamedPolicy[] = [];
  const names = Object.keys(input);
  if (names.length === 0) {
    problems.add(option, input, 'at least one named policy, e.g. { default: "100/min" }');
  }
  for (const name of names) {
    const where = `${option}.${name}`;
    if (!NAME.test(name)) {
      problems.add(where, name, NAME_FORM);
      continue;
    }
    const named = nameOne(input[name], name, where, problems);
    if (named !== undefined) out.push(named);
  }
  return out;
}

/**
 * @Throttle()'s named form. A value in @nestjs/throttler's shape, whole or partial
 * (`{ default: { limit: 5 } }`), is an override, applied to the throttler of its name when a
 * route's throttlers are resolved (see applyOverride); any other value is a policy of that name.
 */
export function throttleOverrides(
  input: Readonly<Record<string, unknown>>,
  option: string,
  problems: ProblemList,
): { policies: NamedPolicy[]; overrides: NamedOverride[] } {
  const rest: Record<string, unknown> = {};
  const overrides: NamedOverride[] = [];
  for (const name of Object.keys(input)) {
    const value = input[name];
    if (!isThrottlerOverride(value)) {
      rest[name] = value;
      continue;
    }
    const where = `${option}.${name}`;
    if (!NAME.test(name)) {
      problems.add(where, name, NAME_FORM);
    } else if ("name" in value) {
      problems.add(`${where}.name`, value.name, "no name: the key names the throttler");
    } else {
      overrides.push({ ...throttlerFields(value, where, problems, true), name });
    }
  }
  const policies =
    Object.keys(rest).length > 0 || overrides.length === 0
      ? namePolicies(rest as NamedPolicies, option, problems)
      : [];
  return { policies, overrides };
}

/** Validates a list of unnamed policies; each keeps its own name (default "<limit>/<window>"). */
export function listPolicies(
  input: PolicyInput | readonly PolicyInput[],
  option: string,
  problems: ProblemList,
): NamedPolicy[] {
  try {
    const parsed = parsePolicies(input, option);
    const list = Array.isArray(input) ? input : [input];
    return parsed.map((p, i) => {
      const item = list[i] as PolicyInput;
      return typeof item === "string"
        ? { limit: p.limit, window: p.windowMs, name: p.name }
        : { ...item, name: p.name };
    });
  } catch (error) {
    collect(error, problems);
    return [];
  }
}

function nameOne(
  input: unknown,
  name: string,
  where: string,
  problems: ProblemList,
): NamedPolicy | undefined {
  if (isThrottlerShape(input)) {
    if ("name" in input) {
      problems.add(`${where}.name`, input.name, "no name: the key names the throttler");
      return undefined;
    }
    return throttlerPolicy(throttlerFields(input, where, problems, false), name);
  }
  try {
    const p = parsePolicies(input, where)[0]!;
    if (typeof input === "string") return { limit: p.limit, window: p.windowMs, name };
    const o = input as PolicyOptions;
    // The record key is the throttler's name: overrides find it by that name.
    return { ...o, name };
  } catch (error) {
    collect(error, problems);
    return undefined;
  }
}

function collect(error: unknown, problems: ProblemList): void {
  const list = (
    error as { problems?: readonly { option: string; received: unknown; expected: string }[] }
  ).problems;
  if (list === undefined) throw error;
  for (const p of list) problems.add(p.option, p.received, p.expected);
}
