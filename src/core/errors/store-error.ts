import { ThrottlekitError } from "./throttlekit-error.js";

/** A store could not answer (connection lost, script error, timeout). Carries the cause. */
export class StoreError extends ThrottlekitError {
  constructor(message: string, options?: { cause?: unknown; timeout?: boolean }) {
    super(options?.timeout ? "ERR_TK_STORE_TIMEOUT" : "ERR_TK_STORE", message, options);
    this.name = "StoreError";
  }
}
