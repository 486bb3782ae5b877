import { ConfigError } from "../../core/errors/config-error.js";
import { IdentityError } from "../identity-error.js";
import type { HttpRequest, MaybePromise } from "../request.js";
import { namespacedKey } from "./namespaced-key.js";
import type { Identity, IdentityResult } from "./types.js";

/** What a session reader returns: the user (and group), or nothing when there is no session user. */
export type SessionUser =
  | string
  | number
  | { readonly user: string | number; readonly group?: string | undefined }
  | null
  | undefined;

/**
 * Identifies users by the session your framework already loaded (asgi-ratelimit's from_session).
 * `read` gets the canonical request; the framework's own objects are on `req.raw`. The key
 * becomes `user:<user>`; no user is an identity error (401 by default).
 *
 * @example
 * session((req) => req.raw.req.session?.userId)                       // express-session
 * session((req) => ({ user: req.raw.req.session.user.id, group: req.raw.req.session.user.plan }))
 */
export function session<Raw = unknown>(
  read: (req: HttpRequest<Raw>) => MaybePromise<SessionUser>,
): Identity<Raw> {
  if (typeof read !== "function") {
    throw new ConfigError([
      {
        option: "session(read)",
        received: read,
        expected: "a function (req) => user | { user, group } | undefined",
      },
    ]);
  }
  const keyOf = namespacedKey("user:");
  const toResult = (u: SessionUser): IdentityResult => {
    if (u === null || u === undefined || u === "")
      throw new IdentityError("The request has no session user.");
    if (typeof u === "string" || typeof u === "number") return keyOf(String(u));
    if (u.user === "" || u.user === null || u.user === undefined)
      throw new IdentityError("The request has no session user.");
    const key = keyOf(String(u.user));
    return u.group === undefined ? key : { key, group: u.group };
  };
  return (req) => {
    const u = read(req);
    return u instanceof Promise ? u.then(toResult) : toResult(u as SessionUser);
  };
}
