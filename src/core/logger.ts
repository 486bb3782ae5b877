/**
 * Where throttlekit says what an operator must know and no Decision can carry: a proxy header
 * that is being ignored, a store outage beginning and ending, a memory store that is full.
 * Each message carries a stable `WARN_TK_*` code, listed in docs/errors.md. Nothing is logged
 * per request: a condition is reported once (`warnOnce`), or once per transition (`warn`, for
 * an outage that begins and later ends).
 */
export interface Logger {
  warn(message: string): void;
}

/** Every warning code throttlekit logs. Listed, with what to do about each, in docs/errors.md. */
export type WarningCode =
  /** A forwarding header arrived from a loopback or private peer while `trustProxy` is unset. */
  | "WARN_TK_PROXY_HEADER_IGNORED"
  /** The framework's own trust-proxy setting differs from throttlekit's `trustProxy`. */
  | "WARN_TK_TRUST_PROXY_MISMATCH"
  /** The memory store is used in a cluster of processes: each process counts on its own. */
  | "WARN_TK_MEMORY_STORE_PER_PROCESS"
  /** The memory store is full of limited or blocked keys; new keys get `whenFull`'s answer. */
  | "WARN_TK_MEMORY_STORE_FULL"
  /** The store stopped answering; decisions follow `onStoreError` until it recovers. */
  | "WARN_TK_STORE_OUTAGE"
  /** The store answers again after an outage. */
  | "WARN_TK_STORE_RECOVERED"
  /** An event listener threw; the request it reported on went on unaffected. */
  | "WARN_TK_LISTENER_FAILED"
  /**
   * A client was blocked automatically: the abuse detector put it on the deny list, or a `ban`
   * started (once per block, never per request).
   */
  | "WARN_TK_AUTO_BLOCKED"
  | "WARN_TK_DENY_LIST_FULL"
  /**
   * An HTTP limiter's `reload()` was refused (a ConfigError); the running configuration keeps
   * serving. Once per refused reload.
   */
  | "WARN_TK_RELOAD_REJECTED";

/** The default logger: `console.warn`, present in every runtime (edge ones included). */
export const consoleLogger: Logger = Object.freeze({
  warn(message: string): void {
    console.warn(message);
  },
});

/** A logger that drops everything (`logger: false`). */
export const silentLogger: Logger = Object.freeze({ warn(): void {} });

const said = new WeakMap<Logger, Set<WarningCode>>();

function format(code: WarningCode, message: string): string {
  return `[throttlekit] ${code}: ${message} (docs/errors.md#${code.toLowerCase()})`;
}

/** Logs `message` under `code`, every time it is called: for transitions (outage, recovery). */
export function warn(logger: Logger, code: WarningCode, message: string): void {
  try {
    logger.warn(format(code, message));
  } catch {
    // A broken logger must never break a request.
  }
}

/** Logs `message` under `code` the first time only, per logger: a condition, not an event. */
export function warnOnce(logger: Logger, code: WarningCode, message: string): void {
  let codes = said.get(logger);
  if (codes === undefined) {
    codes = new Set();
    said.set(logger, codes);
  }
  if (codes.has(code)) return;
  codes.add(code);
  warn(logger, code, message);
}

/**
 * Resolves a `logger` option: undefined → console, false → silent, an object with a `warn`
 * function → itself; anything else → undefined (the caller reports a ConfigError).
 */
export function resolveLogger(option: unknown): Logger | undefined {
  if (option === undefined) return consoleLogger;
  if (option === false) return silentLogger;
  if (
    typeof option === "object" &&
    option !== null &&
    typeof (option as { warn?: unknown }).warn === "function"
  )
    return option as Logger;
  return undefined;
}

/** The expected form of a `logger` option, for ConfigError messages. */
export const LOGGER_FORM = "an object with a warn(message) method (console works), or false";
