/**
 * A circuit breaker so a dead Redis costs no waiting: after `threshold` consecutive failed calls
 * it opens, and calls are answered degraded at once for `cooldownMs`; then one call goes through
 * as a probe (others stay degraded while it is out), and its outcome closes or reopens it.
 * Any success closes it, so a recovered Redis is used again without an application restart.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private probing = false;

  constructor(
    private readonly threshold: number,
    readonly cooldownMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** "closed": send; "probe": send this one call as the probe; "open": do not send. */
  gate(): "closed" | "probe" | "open" {
    if (this.failures < this.threshold) return "closed";
    if (this.probing || this.now() < this.openUntil) return "open";
    this.probing = true;
    return "probe";
  }

  /** Milliseconds until the next probe may go out (0 when closed). */
  retryInMs(): number {
    if (this.failures < this.threshold) return 0;
    return Math.max(0, Math.ceil(this.openUntil - this.now()));
  }

  get open(): boolean {
    return this.failures >= this.threshold;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
  }

  failure(): void {
    this.failures++;
    this.probing = false;
    if (this.failures >= this.threshold) this.openUntil = this.now() + this.cooldownMs;
  }
}
