import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/**
 * Who may see the dashboard, and which calls may change state.
 *
 * - The token opens it: as `Authorization: Bearer <token>` (scripts, the CLI), or once through
 *   the login form or `?token=`, exchanged for a session cookie (HttpOnly, SameSite=Strict) so
 *   the token never lives in the page, its URL or its scripts.
 * - Comparisons are constant-time over SHA-256 digests (equal lengths whatever the input), so
 *   neither the token's content nor its length leaks through timing.
 * - The cookie is a signed session, not the token: `v1.<issued s>.<nonce>.<mac>`, the MAC an
 *   HMAC keyed by a hash of the token. Changing the token ends every session; a session expires
 *   after SESSION_SECONDS.
 * - State-changing calls made with the cookie need the CSRF token too, in a header a cross-site
 *   form cannot send (X-Throttlekit-CSRF), derived from the session (HMAC of its nonce), and an
 *   Origin (or Sec-Fetch-Site) saying the call came from this very origin. Bearer calls need
 *   neither: a browser never adds an Authorization header to a cross-site request on its own.
 */
export const COOKIE = "tk_dashboard";
export const CSRF_HEADER = "x-throttlekit-csrf";
/** A session lasts 12 hours; then the token is asked again. */
export const SESSION_SECONDS = 12 * 3600;

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** Constant-time equality of two strings of any lengths. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** A valid session: its nonce (the CSRF token derives from it) and when it ends (ms). */
export type Session = { readonly nonce: string; readonly expiresAt: number };

export class Auth {
  /** The token's digest, the only form kept besides comparisons. */
  private readonly key: Buffer;
  private readonly tokenDigest: Buffer;

  constructor(token: string) {
    this.tokenDigest = digest(token);
    this.key = createHmac("sha256", this.tokenDigest).update("throttlekit dashboard v1").digest();
  }

  /** True when `candidate` is the token (constant time). */
  checkToken(candidate: string): boolean {
    return timingSafeEqual(digest(candidate), this.tokenDigest);
  }

  private mac(text: string): string {
    return createHmac("sha256", this.key).update(text).digest("base64url");
  }

  /** A fresh session cookie value. */
  newSession(nowMs: number): string {
    const body = `v1.${Math.floor(nowMs / 1000)}.${randomBytes(18).toString("base64url")}`;
    return `${body}.${this.mac(body)}`;
  }

  /** The session when the cookie value is a valid, unexpired one; else undefined. */
  session(value: string | undefined, nowMs: number): Session | undefined {
    if (value === undefined || value.length > 200) return undefined;
    const parts = value.split(".");
    if (parts.length !== 4 || parts[0] !== "v1") return undefined;
    const body = parts.slice(0, 3).join(".");
    if (!safeEqual(this.mac(body), parts[3]!)) return undefined;
    const issued = Number(parts[1]);
    const now = nowMs / 1000;
    if (!Number.isSafeInteger(issued) || issued > now + 60 || now - issued > SESSION_SECONDS)
      return undefined;
    return { nonce: parts[2]!, expiresAt: (issued + SESSION_SECONDS) * 1000 };
  }

  /** The CSRF token of a session: the page holds it, a cross-site attacker cannot compute it. */
  csrf(nonce: string): string {
    return this.mac(`csrf.${nonce}`);
  }
}

/** One cookie's value from a Cookie header. */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The token of an `Authorization: Bearer` header, if any. */
export function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

/**
 * True when a state-changing request comes from the dashboard's own origin: Origin, when sent,
 * must be this host (every browser sends it on POST and DELETE); Sec-Fetch-Site, when sent,
 * must be same-origin. A request with neither (not a browser) still needs the CSRF header.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin") return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  if (host === undefined) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return url.host.toLowerCase() === host.toLowerCase();
}

/** Set-Cookie for a session (Secure when the connection is TLS). */
export function sessionCookie(
  value: string,
  path: string,
  secure: boolean,
  maxAge = SESSION_SECONDS,
): string {
  return `${COOKIE}=${value}; Path=${path}; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`;
}
