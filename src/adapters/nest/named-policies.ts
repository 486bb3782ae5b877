import {
  type PolicyInput,
  type PolicyOptions,
  type ProblemList,
  parsePolicies,
} from "../../index.js";
import {
  type DynamicThrottler,
  fromThrottler,
  isThrottlerShape,
  type ThrottlerOptions,
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

/**
 * @nestjs/throttler's `[{ name?, ttl, limit, blockDuration? }]` (ttl in ms): fixed windows from
 * each client's first request, named "default" unless named.
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
      problems.add(
        `${where}.name`,
        name,
        "a name of 1 to 64 characters: letters, digits, _ . : / -",
      );
      return;
    }
    if (seen.has(name)) {
      problems.add(`${where}.name`, name, "a name no other throttler has");
      return;
    }
    seen.add(name);
    const p = fromThrottler(item, where, problems);
    if (p !== undefined) out.push({ ...p, algorithm: "fixed-window", name });
  });
  if (input.length === 0) problems.add(option, input, "at least one throttler");
  return out;
}

/** Throttler names end up in store keys and headers (as sf-strings): keep them plain. */
const NAME = /^[\w.:/-]{1,64}$/;

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
      problems.add(where, name, "a name of 1 to 64 characters: letters, digits, _ . : / -");
      continue;
    }
    const named = nameOne(input[name], name, where, problems);
    if (named !== undefined) out.push(named);
  }
  return out;
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
    const p = fromThrottler(input, where, problems);
    return p === undefined ? undefined : { ...p, algorithm: "fixed-window", name };
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
