import type { ExtendedError } from "socket.io";
import type { RespondOutcome } from "../../http/index.js";
import type { Decision } from "../../index.js";

/** Why a connection or an event was refused: `err.data` of a connect_error, an ack's argument. */
export type RefusalCode = "RATE_LIMITED" | "UNAVAILABLE" | "FORBIDDEN" | "UNAUTHORIZED";

/** `err.data` of the client's `connect_error` when the limiter refused the connection. */
export type ConnectionRefusal = {
  readonly code: RefusalCode;
  /** Wait before retrying (ms); null when waiting will not help or is unknown. */
  readonly retryAfterMs: number | null;
  /** Which limit refused: "connections", "maxConnections", "lists" or "identity". */
  readonly limit: "connections" | "maxConnections" | "lists" | "identity";
};

/** What a limited event's ack receives, or the `"rate_limited"` event carries without an ack. */
export type EventRefusal = {
  /** "RATE_LIMITED" for a quota; "UNAVAILABLE" when the store is out (fail-closed). */
  readonly code: "RATE_LIMITED" | "UNAVAILABLE";
  readonly retryAfterMs: number | null;
  readonly event: string;
};

/** A client that left while its admission awaited the store: nothing was admitted. */
export const CLOSED = "connection closed during admission";

export function waitOf(ms: number): number | null {
  return Number.isFinite(ms) && ms >= 0 ? Math.ceil(ms) : null;
}

const MESSAGES: Record<RefusalCode, string> = {
  RATE_LIMITED: "Too Many Requests",
  UNAVAILABLE: "Service Unavailable",
  FORBIDDEN: "Forbidden",
  UNAUTHORIZED: "Unauthorized",
};

export function refusalError(data: ConnectionRefusal, cause?: unknown): ExtendedError {
  const wait = data.retryAfterMs === null ? "" : ` (retry after ${data.retryAfterMs} ms)`;
  const error = new Error(
    `${MESSAGES[data.code]}: ${data.limit}${wait}`,
    cause === undefined ? undefined : { cause },
  ) as ExtendedError;
  error.data = data;
  return error;
}

export function refusal(d: Decision, limit: ConnectionRefusal["limit"]): ExtendedError {
  const code = d.reason === "degraded" ? "UNAVAILABLE" : "RATE_LIMITED";
  return refusalError({ code, retryAfterMs: waitOf(d.retryAfterMs), limit });
}

/** The HTTP layer's answer (429, 503, 403, 401) as a connect_error. */
export function responded(o: RespondOutcome): ExtendedError {
  const code: RefusalCode =
    o.status === 503
      ? "UNAVAILABLE"
      : o.status === 403
        ? "FORBIDDEN"
        : o.status === 401
          ? "UNAUTHORIZED"
          : "RATE_LIMITED";
  const retry = o.headers["Retry-After"];
  const retryAfterMs =
    o.decision !== undefined && !o.decision.allowed
      ? waitOf(o.decision.retryAfterMs)
      : retry !== undefined
        ? Number(retry) * 1000
        : null;
  const limit =
    code === "FORBIDDEN" ? "lists" : o.reason === "identity-error" ? "identity" : "connections";
  return refusalError({ code, retryAfterMs: code === "FORBIDDEN" ? null : retryAfterMs, limit });
}

export function unavailable(error: unknown): ExtendedError {
  return refusalError({ code: "UNAVAILABLE", retryAfterMs: null, limit: "connections" }, error);
}
