import { StoreError } from "../../core/errors/store-error.js";
import type { CircuitBreaker } from "./breaker.js";
import type { Commands } from "./client.js";
import { SCRIPT_SHA, SCRIPT_SOURCE } from "./script.js";

/**
 * Runs the decision script with a bounded wait. EVALSHA first; on NOSCRIPT (a restarted node,
 * SCRIPT FLUSH, a failover, a new cluster master) the same call is retried once as EVAL, which
 * loads the script into that node's cache as it runs it, so every master gets it on first use.
 *
 * The wait is our own timer racing the command, because clients may hold a command for a long
 * time (ioredis queues commands while it reconnects). A reply arriving after the timer is
 * dropped; its promise is still handled, so nothing ends as an unhandled rejection.
 */
export class ScriptRunner {
  /** Commands sent to Redis, retries included (for tests and the bench). */
  calls = 0;

  constructor(
    private readonly commands: Commands,
    private readonly timeoutMs: number,
    readonly breaker: CircuitBreaker,
  ) {}

  get cluster(): boolean {
    return this.commands.cluster;
  }

  /** `keys` and `argv` of one call; `keys[0]` decides the node on a cluster. */
  run(keys: readonly string[], argv: readonly string[]): Promise<unknown> {
    const args = new Array<string>(3 + keys.length + argv.length);
    args[0] = "EVALSHA";
    args[1] = SCRIPT_SHA;
    args[2] = String(keys.length);
    let i = 3;
    for (const k of keys) args[i++] = k;
    for (const a of argv) args[i++] = a;
    const route = keys[0] ?? "";
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.breaker.failure();
        reject(
          new StoreError(`Redis did not answer within ${this.timeoutMs} ms`, { timeout: true }),
        );
      }, this.timeoutMs);
      timer.unref?.();
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.breaker.failure();
        reject(
          error instanceof StoreError
            ? error
            : new StoreError(`Redis command failed: ${messageOf(error)}`, { cause: error }),
        );
      };
      const done = (reply: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.breaker.success();
        resolve(reply);
      };
      const attempt = (sha: boolean) => {
        // A fresh array for the retry: a client may still hold the one it was given.
        const command = sha ? args : ["EVAL", SCRIPT_SOURCE, ...args.slice(2)];
        this.calls++;
        let sent: Promise<unknown>;
        try {
          sent = this.commands.send(route, command);
        } catch (error) {
          fail(error);
          return;
        }
        sent.then(done, (error: unknown) => {
          if (sha && !settled && messageOf(error).startsWith("NOSCRIPT")) attempt(false);
          else fail(error);
        });
      };
      attempt(true);
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
