import { ThrottlekitError } from "../core/errors/throttlekit-error.js";

/**
 * A request's identity could not be established: a missing or invalid credential, or no client
 * address. The HTTP layer hands it to `onIdentityError` (401 by default), never to a 500.
 */
export class IdentityError extends ThrottlekitError {
  /** A `WWW-Authenticate` challenge for the 401 (RFC 9110 §11.6.1), e.g. `Bearer`. */
  readonly challenge: string | undefined;

  constructor(message: string, options?: { cause?: unknown; challenge?: string }) {
    super("ERR_TK_IDENTITY", message, options);
    this.name = "IdentityError";
    this.challenge = options?.challenge;
  }
}
