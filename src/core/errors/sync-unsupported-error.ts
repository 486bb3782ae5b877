import { ThrottlekitError } from "./throttlekit-error.js";

/** `consumeSync` was called on a limiter whose store can only answer asynchronously. */
export class SyncUnsupportedError extends ThrottlekitError {
  constructor(storeName: string) {
    super(
      "ERR_TK_SYNC_UNSUPPORTED",
      `The ${storeName} store has no synchronous path; use consume() (async) or memoryStore().`,
    );
    this.name = "SyncUnsupportedError";
  }
}
