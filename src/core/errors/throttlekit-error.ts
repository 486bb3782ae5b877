/** Brand shared by every copy of throttlekit loaded in one process (two bundles, two versions). */
const BRAND = Symbol.for("throttlekit.error");

/** Every stable error code throttlekit throws. Listed in docs/errors.md. */
export type ThrottlekitErrorCode =
  | "ERR_TK_CONFIG"
  | "ERR_TK_SYNC_UNSUPPORTED"
  | "ERR_TK_STORE"
  | "ERR_TK_STORE_TIMEOUT"
  | "ERR_TK_IDENTITY"
  | "ERR_TK_RATE_LIMITED";

/**
 * Base class of every error throttlekit throws on purpose. A limit being hit is not an error
 * where a `Decision` can say so (`consume`, the HTTP layer); only calls that have no other
 * answer (a wrapped function, `waitFor`, a scheduled job) throw `RateLimitedError`. The rest
 * are misuse and infrastructure faults.
 */
export class ThrottlekitError extends Error {
  readonly code: ThrottlekitErrorCode;

  constructor(code: ThrottlekitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ThrottlekitError";
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/**
 * True for an error thrown by any loaded copy of throttlekit; `instanceof` fails across
 * copies, the brand does not.
 *
 * @example
 * try { createLimiter({ policies: "ten/s" }) } catch (e) { if (isThrottlekitError(e)) log(e.code) }
 */
export function isThrottlekitError(value: unknown): value is ThrottlekitError {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<symbol, unknown>)[BRAND] === true &&
    typeof (value as { code?: unknown }).code === "string"
  );
}
