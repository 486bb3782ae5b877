import type { HttpRequest, MaybePromise } from "../request.js";
import type { Unlimited } from "../unlimited.js";

/**
 * Who a request is, for counting: a key (a user, an API key, an address) and an optional group
 * that picks the rule's policies (asgi-ratelimit's user groups).
 */
export type IdentityResult =
  | string
  | { readonly key: string; readonly group?: string | undefined }
  | Unlimited;

/** What the HTTP layer passes to identities besides the request. */
export type IdentityContext = {
  /** The limiter's clock (ms): JWT expiry is checked against it. */
  readonly now: () => number;
};

/**
 * Resolves a request's identity. Throw an IdentityError (or anything) for a request that has no
 * acceptable identity: it goes to `onIdentityError`, a 401 by default. Built-ins: `ip()`,
 * `jwt()`, `apiKey()`, `session()`; any function of this shape works.
 *
 * @example
 * const byUser: Identity = (req) => ({ key: `user:${req.header("x-user")}`, group: "free" });
 */
export type Identity<Raw = unknown> = (
  req: HttpRequest<Raw>,
  context: IdentityContext,
) => MaybePromise<IdentityResult>;
