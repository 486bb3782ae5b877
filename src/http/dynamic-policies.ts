import { ConfigError } from "../core/errors/config-error.js";
import { BoundedMemo } from "./bounded-memo.js";
import type { HttpRequest, MaybePromise } from "./request.js";
import type { PolicySet, Target } from "./rules.js";
import { UNLIMITED, type Unlimited } from "./unlimited.js";

/** Who the request is, as the rule's identity said: what a policy function decides by. */
export type RequestIdentity = {
  readonly key: string;
  /** The group the identity named, if any. */
  readonly group: string | undefined;
};

/**
 * Policies computed per request (issue 19 item 3): from the request and its identity, the
 * policies to enforce (as a rule's `policies` takes them) or UNLIMITED. Sync or async. Counters
 * are kept per policy (its name and parameters), so two different limits computed for one
 * identity never share a counter, and the same limit computed twice always does.
 *
 * @example
 * (req, { group }) => (group === "pro" ? "1000/min" : "100/min")
 */
export type PolicyFunction<Raw = unknown> = (
  req: HttpRequest<Raw>,
  identity: RequestIdentity,
) => MaybePromise<PolicySet | Unlimited>;

/**
 * Distinct policy sets a function-valued `policies` keeps compiled. A function may compute its
 * policies from client input (a header); past this many distinct sets the cache starts over, so
 * no client can grow it.
 */
export const POLICY_CACHE_SIZE = 1000;

/**
 * A rule's (or zone's) function-valued policies and their compiled limiters, cached by the
 * value the function returned: a string or number as is, an object or array by its JSON text.
 * Only values that compile are cached; a bad one throws a ConfigError every time it is returned.
 */
export class DynamicPolicies<Raw> {
  private readonly memo = new BoundedMemo<string, Target | Unlimited>(POLICY_CACHE_SIZE);

  constructor(
    readonly fn: PolicyFunction<Raw>,
    /** The option the function was given as (`rules[0].policies`), for errors. */
    private readonly option: string,
    private readonly build: (input: PolicySet) => Target,
  ) {}

  /** The target of the value `fn` returned; throws a ConfigError for a value that is no policy. */
  target(input: unknown): Target | Unlimited {
    if (input === UNLIMITED) return UNLIMITED;
    const key = cacheKey(input);
    if (key === undefined) throw this.bad(input);
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    let target: Target;
    try {
      target = this.build(input as PolicySet);
    } catch (error) {
      if (error instanceof ConfigError) throw this.bad(input, error);
      throw error;
    }
    return this.memo.remember(key, target);
  }

  /** The targets compiled and still cached (key management acts on these). */
  cached(): Target[] {
    const out: Target[] = [];
    for (const t of this.memo.values()) if (t !== UNLIMITED) out.push(t);
    return out;
  }

  /** How many policy sets are cached now (at most POLICY_CACHE_SIZE). */
  get size(): number {
    return this.memo.size;
  }

  private bad(input: unknown, cause?: ConfigError): ConfigError {
    const detail = cause?.problems[0]?.expected;
    return new ConfigError([
      {
        option: `${this.option}(req)`,
        received: input,
        expected: `policies such as "100/min", [{ limit, window }], or UNLIMITED${detail === undefined ? "" : ` (${detail})`}`,
      },
    ]);
  }
}

function cacheKey(input: unknown): string | undefined {
  if (typeof input === "string") return `s${input}`;
  if (typeof input === "number") return `n${input}`;
  if (typeof input !== "object" || input === null) return undefined;
  try {
    // Policy inputs are plain data; a value JSON cannot write (a cycle, a BigInt) is no policy.
    return `j${JSON.stringify(input)}`;
  } catch {
    return undefined;
  }
}
