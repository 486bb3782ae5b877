import { ProblemList } from "../../core/errors/config-error.js";
import { IdentityError } from "../identity-error.js";
import type { HttpRequest } from "../request.js";
import { namespacedKey } from "./namespaced-key.js";
import type { Identity, IdentityContext, IdentityResult } from "./types.js";

/** Options of apiKey(). */
export type ApiKeyOptions = {
  /**
   * Maps a key to its group (a plan, a tier), or undefined for the default group. It sees the
   * key as sent; it is the place to reject unknown keys (throw an IdentityError).
   * @default undefined (every key in the default group)
   */
  group?: (apiKey: string) => string | undefined;
  /** Identity for requests without the header (anonymous traffic by IP, say). @default undefined (an identity error) */
  fallback?: Identity<never>;
  /** Longest accepted key; longer ones are identity errors, so junk cannot bloat the store. @default 256 */
  maxLength?: number;
};

/**
 * Identifies clients by an API key header; the key becomes `apikey:<value>`. It does not check
 * that the key is valid (your auth does; `group` may): it only counts per key.
 *
 * @example
 * apiKey("x-api-key", { group: (k) => plans.get(k) })
 */
export function apiKey(header = "x-api-key", options: ApiKeyOptions = {}): Identity<unknown> {
  const problems = new ProblemList();
  if (typeof header !== "string" || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header)) {
    problems.add("apiKey(header)", header, "a header name (an RFC 9110 token)");
  }
  problems.unknownKeys(options, ["group", "fallback", "maxLength"], "apiKey");
  for (const k of ["group", "fallback"] as const) {
    if (options[k] !== undefined && typeof options[k] !== "function")
      problems.add(`apiKey.${k}`, options[k], "a function");
  }
  const max = options.maxLength ?? 256;
  if (!Number.isSafeInteger(max) || max < 1)
    problems.add("apiKey.maxLength", options.maxLength, "a whole number ≥ 1");
  problems.throwIfAny();
  const name = header.toLowerCase();
  const { group, fallback } = options;
  const keyOf = namespacedKey("apikey:");
  return (
    req: HttpRequest<unknown>,
    context: IdentityContext,
  ): IdentityResult | Promise<IdentityResult> => {
    const value = req.header(name)?.trim();
    if (value === undefined || value === "") {
      if (fallback !== undefined) return fallback(req as HttpRequest<never>, context);
      throw new IdentityError(`The request has no ${header} header.`);
    }
    if (value.length > max)
      throw new IdentityError(`The ${header} header is longer than ${max} characters.`);
    const key = keyOf(value);
    if (group === undefined) return key;
    const g = group(value);
    return g === undefined ? key : { key, group: g };
  };
}
