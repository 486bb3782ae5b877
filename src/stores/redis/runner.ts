import { StoreError } from "../../core/errors/store-error.js";
import type { CircuitBreaker } from "./breaker.js";
import type { Commands } from "./client.js";
import type { OutageLog } from "./outage-log.js";
import { SCRIPT_SHA, SCRIPT_SOURCE } from "./script.js";

/** A Lua script the runner can send: its source and the SHA1 EVALSHA names it by. */
export type Script = { readonly sha: string; readonly source: string };

/** The decision script (script.ts): the default. */
const DECIDE: Script = { sha: SCRIPT_SHA, source: SCRIPT_SOURCE };

/**
 * The local clock the deadline is computed on: monotonic (performance.now() never steps back
 * when the wall clock is adjusted), in roughly wall-clock ms.
 */
const localNow = (): number => performance.timeOrigin + performance.now();

/** The most the deadline is set before the caller's own timer fires (see `deadline`). */
const MAX_MARGIN_MS = 50;

/**
 * Runs the decision script with a bounded wait. EVALSHA first; on NOSCRIPT (a restarted node,
 * SCRIPT FLUSH, a failover, a new cluster master) the same call is retried once as EVAL, which
 * loads the script into that node's cache as it runs it, so every master gets it on first use.
 *
 * The wait is our own timer racing the command, because clients may hold a command for a long
 * time (ioredis queues commands while it reconnects). A reply arriving after the timer is
 * dropped; its promise is still handled, so nothing ends as an unhandled rejection.
 *
 * Late runs (issue 13, item 8): a command sent before the timer fired may still run when Redis
 * wakes from a stall, after its decision was answered per onStoreError. So every call carries a
 * deadline in server time, and the script does nothing when it starts past it (header.ts). The
 * deadline is the moment our timer fires, mapped to server time with a conservative estimate of
 * the offset between the local clock and Redis TIME, minus a margin for the reply's way back.
 */
export class ScriptRunner {
  /** Commands sent to Redis, retries and clock probes included (for tests and the bench). */
  calls = 0;
  /** Calls started so far: orders results against outage transitions (outage-log.ts). */
  private seq = 0;
  /**
   * A lower bound of Redis TIME minus localNow() in ms, from replies; undefined before the
   * first. Every reply bounds the true offset: it is at least (server time − receipt time) and
   * at most (server time + 1 − send time). The estimate is the highest lower bound seen, and is
   * replaced by the newest lower bound when a reply proves it too high (the server's clock
   * stepped back, or another node answered): always a value the true offset is not below, so a
   * deadline computed with it is never later than the caller's timer.
   */
  private offset: number | undefined;
  /** The clock probe in flight, while no offset is known (see syncClock). */
  private clockProbe: Promise<void> | undefined;
  private readonly marginMs: number;

  constructor(
    private readonly commands: Commands,
    private readonly timeoutMs: number,
    readonly breaker: CircuitBreaker,
    private readonly outages: OutageLog,
  ) {
    this.marginMs = Math.max(1, Math.min(MAX_MARGIN_MS, timeoutMs / 4));
  }

  get cluster(): boolean {
    return this.commands.cluster;
  }

  /**
   * `keys` and `argv` of one call; `keys[0]` decides the node on a cluster. `argv[0]` is the
   * deadline's slot, filled here. Resolves to the script's reply (server time first). Any
   * `script` must keep the decision script's protocol: ARGV[1] is the deadline, and a run
   * starting past it does nothing and answers { -1, server time } (lua/header.ts).
   */
  run(keys: readonly string[], argv: readonly string[], script: Script = DECIDE): Promise<unknown> {
    const args = new Array<string>(3 + keys.length + argv.length);
    args[0] = "EVALSHA";
    args[1] = script.sha;
    args[2] = String(keys.length);
    let i = 3;
    for (const k of keys) args[i++] = k;
    const deadlineAt = i;
    for (const a of argv) args[i++] = a;
    const route = keys[0] ?? "";
    const seq = ++this.seq;
    const expires = localNow() + this.timeoutMs;
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        const error = new StoreError(`Redis did not answer within ${this.timeoutMs} ms`, {
          timeout: true,
        });
        this.failed(seq, error);
        reject(error);
      }, this.timeoutMs);
      timer.unref?.();
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const storeError =
          error instanceof StoreError
            ? error
            : new StoreError(`Redis command failed: ${messageOf(error)}`, { cause: error });
        this.failed(seq, storeError);
        reject(storeError);
      };
      const done = (reply: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.breaker.success();
        this.outages.success(seq, this.seq);
        resolve(reply);
      };
      // `resent`: this call already went out again after a refusal (below).
      const attempt = (command: string[], resent: boolean) => {
        this.calls++;
        const estimate = this.offset;
        const sentAt = localNow();
        let sent: Promise<unknown>;
        try {
          sent = this.commands.send(route, command);
        } catch (error) {
          fail(error);
          return;
        }
        sent.then(
          (reply) => {
            const server = Array.isArray(reply) ? reply[0] : undefined;
            if (typeof server === "number") this.learn(server, sentAt);
            if (server !== -1 || !Array.isArray(reply)) {
              done(reply);
              return;
            }
            // The script did nothing: it started past the deadline. When that deadline came
            // from an estimate this reply has corrected (none was known: the clock probe
            // failed; or the server's clock stepped forward), one resend with the right
            // deadline may still be in time; otherwise the call is as late as its timer says.
            const time = reply[1];
            if (typeof time === "number") this.learn(time, sentAt);
            if (!settled && !resent && this.offset !== estimate) {
              attempt(this.withDeadline(command, deadlineAt, expires), true);
            } else {
              fail(
                new StoreError(
                  `Redis ran the call after its deadline (timeout ${this.timeoutMs} ms): nothing was done`,
                  { timeout: true },
                ),
              );
            }
          },
          (error: unknown) => {
            if (!settled && command[0] === "EVALSHA" && messageOf(error).startsWith("NOSCRIPT")) {
              // The same deadline: it is absolute. A fresh array: the client may hold the old one.
              attempt(["EVAL", script.source, ...command.slice(2)], resent);
            } else fail(error);
          },
        );
      };
      const start = () => {
        if (settled) return;
        args[deadlineAt] = this.deadline(expires);
        attempt(args, false);
      };
      if (this.offset === undefined) this.syncClock(route).then(start);
      else start();
    });
  }

  /**
   * Learns the clock offset before the first call: the script with no operation and deadline 0
   * answers at once with the server's time, doing nothing. One probe at a time, bounded by the
   * timeout; never rejects (should it fail, calls go out with deadline 0 and learn from their
   * own refusal, see `run`).
   */
  private syncClock(route: string): Promise<void> {
    if (this.clockProbe !== undefined) return this.clockProbe;
    const probe = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.timeoutMs);
      timer.unref?.();
      const sentAt = localNow();
      const send = (command: string[]): Promise<unknown> => {
        this.calls++;
        try {
          return this.commands.send(route, command);
        } catch (error) {
          return Promise.reject(error);
        }
      };
      send(["EVALSHA", SCRIPT_SHA, "0", "0"])
        .catch((error: unknown) => {
          if (messageOf(error).startsWith("NOSCRIPT"))
            return send(["EVAL", SCRIPT_SOURCE, "0", "0"]);
          throw error;
        })
        .then(
          (reply) => {
            if (Array.isArray(reply) && typeof reply[1] === "number") this.learn(reply[1], sentAt);
          },
          () => {},
        )
        .finally(() => {
          clearTimeout(timer);
          resolve();
        });
    }).finally(() => {
      this.clockProbe = undefined;
    });
    this.clockProbe = probe;
    return probe;
  }

  /**
   * The last server time at which the script may start: our timer's expiry in server time, by
   * the conservative offset, less a margin so a reply computed in time also arrives in time.
   * "0" (always past) while no offset is known: the call then comes back at once with the
   * server's time, doing nothing, and is resent with a real deadline.
   */
  private deadline(expires: number): string {
    if (this.offset === undefined) return "0";
    return String(Math.floor(expires + this.offset - this.marginMs));
  }

  /** A copy of `command` with a fresh deadline (the client may still hold the old array). */
  private withDeadline(command: string[], at: number, expires: number): string[] {
    const copy = command.slice();
    // EVAL replaces EVALSHA's sha by the source: same positions.
    copy[at] = this.deadline(expires);
    return copy;
  }

  private learn(server: number, sentAt: number): void {
    if (server <= 0) return;
    const lower = server - localNow();
    const upper = server + 1 - sentAt;
    if (this.offset === undefined || lower > this.offset || upper < this.offset) {
      this.offset = lower;
    }
  }

  private failed(seq: number, error: StoreError): void {
    this.breaker.failure();
    this.outages.failure(seq, this.seq, error);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
