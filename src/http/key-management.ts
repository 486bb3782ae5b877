import type { Decision } from "../core/decision.js";
import { DURATION_FORM, type Duration, parseDuration } from "../core/duration.js";
import { ConfigError } from "../core/errors/config-error.js";
import { type Limiter, MAX_KEY_LENGTH } from "../core/limiter.js";
import type { CompiledRule, Target } from "./rules.js";
import { pathPart, scopedKey } from "./scope.js";
import { UNLIMITED } from "./unlimited.js";

/**
 * Which counters of an identity key `resetKey`, `getKey`, `block` and `unblock` act on (issue 19
 * item 2).
 */
export type KeyOptions = {
  /** One rule, by name (the top-level policies are the rule "default"). @default every rule */
  readonly rule?: string;
  /**
   * For rules with `scope: "path"` (the concrete path) or `scope: "route"` (the route template
   * or the rule's path pattern): whose counter is meant. Without it those rules are left alone
   * (and naming one in `rule` is a ConfigError); rules counting per rule ignore it.
   * @default undefined
   */
  readonly path?: string;
  /**
   * getKey only: the group whose policies are peeked (a rule with policies per group).
   * @default the rule's default policies
   */
  readonly group?: string;
};

const KEY_OPTIONS = ["rule", "path", "group"];

/** One rule's counters of one key: the limiters holding them and the key they are kept under. */
type Counters = { readonly rule: string; readonly targets: Target[]; readonly counter: string };

/**
 * The counters `options` designate for `key`, rule by rule, in rule order. Throws a ConfigError
 * for a bad key, unknown options, an unknown rule, or a scoped rule named without `path`.
 */
export function countersOf<Raw>(
  rules: readonly CompiledRule<Raw>[],
  key: unknown,
  options: KeyOptions | undefined,
  call: string,
): Counters[] {
  const bad = (option: string, received: unknown, expected: string) =>
    new ConfigError([{ option: `${call}(${option})`, received, expected }]);
  if (typeof key !== "string" || key === "" || key.length > MAX_KEY_LENGTH)
    throw bad("key", key, `an identity key of 1 to ${MAX_KEY_LENGTH} characters`);
  if (options !== undefined && (typeof options !== "object" || options === null))
    throw bad("options", options, "{ rule?, path?, group? }");
  const o = options ?? {};
  for (const k of Object.keys(o)) {
    if (!KEY_OPTIONS.includes(k)) throw bad("options", k, "one of rule, path, group");
  }
  if (o.path !== undefined && (typeof o.path !== "string" || o.path === ""))
    throw bad("options.path", o.path, "a path or route template");
  let chosen = rules;
  if (o.rule !== undefined) {
    const rule = rules.find((r) => r.name === o.rule);
    if (rule === undefined) {
      const names = rules.map((r) => `"${r.name}"`).join(" | ");
      throw bad("options.rule", o.rule, `a rule name: ${names}`);
    }
    if (rule.scope !== "rule" && o.path === undefined) {
      throw bad(
        "options.path",
        undefined,
        `the path (scope "path") or route (scope "route") whose counter is meant: rule "${rule.name}" counts per ${rule.scope}`,
      );
    }
    chosen = [rule];
  }
  const out: Counters[] = [];
  for (const rule of chosen) {
    if (rule.exempt) continue;
    let counter = key;
    if (rule.scope !== "rule") {
      if (o.path === undefined) continue;
      // A "path" counter is kept under the folded path (scope.ts), as the request's was.
      counter = scopedKey(key, rule.scope === "path" ? pathPart(o.path) : o.path);
    }
    let targets: Target[];
    if (rule.dynamic !== undefined) {
      // Which of its policy sets applies depends on a request: getKey cannot tell.
      if (call === "getKey") continue;
      targets = rule.dynamic.cached();
    } else if (o.group !== undefined && call === "getKey") {
      const t = rule.groups?.get(o.group) ?? rule.fallback;
      targets = t === undefined || t === UNLIMITED ? [] : [t];
    } else {
      targets = [];
      const all = [rule.fallback, ...(rule.groups?.values() ?? [])];
      for (const t of all) if (typeof t === "object") targets.push(t);
    }
    if (targets.length > 0) out.push({ rule: rule.name, targets, counter });
  }
  return out;
}

/** Runs `act` once per limiter and counter key (rules sharing a zone share their limiters). */
export function eachCounter(
  counters: readonly Counters[],
  act: (limiter: Limiter, counter: string) => Promise<void>,
): Promise<void> {
  const done = new Map<Limiter, Set<string>>();
  const runs: Promise<void>[] = [];
  for (const { targets, counter } of counters) {
    for (const { limiter } of targets) {
      let seen = done.get(limiter);
      if (seen === undefined) {
        seen = new Set();
        done.set(limiter, seen);
      }
      if (seen.has(counter)) continue;
      seen.add(counter);
      runs.push(act(limiter, counter));
    }
  }
  return Promise.all(runs).then(() => {});
}

/** Checks `block`'s duration up front, so a call that reaches no counter still reports it. */
export function checkBlockDuration(duration: unknown): void {
  const ms = parseDuration(duration as Duration);
  if (ms === undefined || ms <= 0) {
    throw new ConfigError([
      { option: "block(duration)", received: duration, expected: `a positive ${DURATION_FORM}` },
    ]);
  }
}

/** getKey's answer: per rule, the peeked Decision of its default policies (or `group`'s). */
export async function peekCounters(
  counters: readonly Counters[],
): Promise<Record<string, Decision>> {
  const entries = await Promise.all(
    counters.map(
      async ({ rule, targets, counter }) =>
        [rule, await targets[0]!.limiter.peek(counter)] as const,
    ),
  );
  return Object.fromEntries(entries);
}
