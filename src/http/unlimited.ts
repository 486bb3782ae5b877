/**
 * Marks a client or a group that is never limited (traffik's UNLIMITED). An identity may return
 * it for a request; a rule may give it to a group: `groups: { admin: UNLIMITED }`. It is a
 * registered symbol, so two loaded copies of throttlekit agree on it.
 *
 * @example
 * identity: (req) => (req.header("x-internal") === secret ? UNLIMITED : ip()(req))
 */
export const UNLIMITED: unique symbol = Symbol.for("throttlekit.unlimited") as never;
/** The type of UNLIMITED. */
export type Unlimited = typeof UNLIMITED;
