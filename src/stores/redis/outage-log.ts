import { type Logger, warn } from "../../core/logger.js";

/**
 * Says when the Redis store starts answering degraded and when it answers again, once per
 * transition, never per request (issue 13, item 12): WARN_TK_STORE_OUTAGE on the first failed
 * call (error, timeout, late run) after a healthy period, WARN_TK_STORE_RECOVERED on the first
 * successful call after that.
 *
 * Results are ordered by the calls' sequence numbers: a call sent before the last transition
 * says nothing about the state after it (a reply to a command sent before the outage began, or
 * the timeout of one queued while Redis was down and answered after a probe had succeeded).
 */
export class OutageLog {
  private down = false;
  /** The last sequence number sent when the state last changed. */
  private mark = 0;
  private since = 0;
  private degradedAtStart = 0;

  constructor(
    private readonly logger: Logger,
    private readonly mode: string,
    private readonly stats: { readonly degraded: number },
  ) {}

  /** Call `seq` failed; `latest` is the newest sequence number sent so far. */
  failure(seq: number, latest: number, error: unknown): void {
    if (this.down || seq <= this.mark) return;
    this.down = true;
    this.mark = latest;
    this.since = Date.now();
    this.degradedAtStart = this.stats.degraded;
    const why = error instanceof Error ? error.message : String(error);
    warn(
      this.logger,
      "WARN_TK_STORE_OUTAGE",
      `the Redis store cannot answer (${why}); decisions follow onStoreError "${this.mode}" (reason "degraded") until it answers again`,
    );
  }

  /** Call `seq` succeeded; `latest` is the newest sequence number sent so far. */
  success(seq: number, latest: number): void {
    if (!this.down || seq <= this.mark) return;
    this.down = false;
    this.mark = latest;
    warn(
      this.logger,
      "WARN_TK_STORE_RECOVERED",
      `the Redis store answers again after ${Date.now() - this.since} ms; ${this.stats.degraded - this.degradedAtStart} decisions were answered degraded meanwhile`,
    );
  }
}
