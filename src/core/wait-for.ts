import type { Decision } from "./decision.js";
import { ConfigError } from "./errors/config-error.js";
import { RateLimitedError } from "./errors/rate-limited-error.js";
import type { ConsumeOptions, Limiter } from "./limiter.js";
import { type Timers, timersNow } from "./timers.js";
import {
  DEFAULTS,
  deadlineOf,
  MAX_WAITERS,
  overflow,
  type Parsed,
  parseOptions,
  tooLate,
  type WaitOptions,
} from "./wait-options.js";
import {
  type KeyQueue,
  newKeyQueue,
  newWaiter,
  type Waiter,
  type WaiterList,
} from "./wait-queue.js";

export { MAX_WAITERS, type WaitOptions } from "./wait-options.js";

/** The most a remote store's re-check is delayed at random (see jitter()). */
const MAX_JITTER_MS = 25;

/**
 * The waiting rooms of one limiter (`limiter.waitFor`): one FIFO queue per key that has
 * callers waiting, and one timer per such key.
 *
 * - Only the head of a key's queue consumes. A newcomer never overtakes a waiter, even when its
 *   own cost would fit now: head-of-line blocking by design, so a large cost is never starved
 *   by a stream of small ones.
 * - The head sleeps exactly the refusal's `retryAfterMs` (plus a little jitter on remote
 *   stores, so a fleet woken by one window does not hit the store in the same millisecond),
 *   then tries again; once admitted, the next waiter is tried at once, so one opening admits
 *   as many as fit without a timer each.
 * - A key without a queue consumes directly (synchronously on the memory store): waiting
 *   costs nothing until a refusal.
 * - "degraded" refusals (the store is down and fail-closed, or the memory store is full of
 *   blocks) are waited on like any other: their `retryAfterMs` is when the store may answer
 *   again (the circuit breaker's next probe), so callers ride out a short outage instead of
 *   failing all at once; `maxWaitMs` bounds how long they ride.
 */
export class WaitQueues {
  private readonly queues = new Map<string, KeyQueue>();
  /** Waiters held in any queue (waiting or admitted with a delay), for MAX_WAITERS. */
  private held = 0;
  private readonly sync: boolean;
  private readonly now: () => number;

  constructor(
    readonly limiter: Limiter,
    readonly timers: Timers,
    /** For tests of the jitter only. */
    private readonly random: () => number = Math.random,
  ) {
    this.sync = limiter.canConsumeSync;
    this.now = timersNow(timers);
  }

  waitFor(key: string, options?: WaitOptions): Promise<Decision> {
    const parsed = options === undefined ? DEFAULTS : parseOptions(options);
    if (parsed instanceof ConfigError) return Promise.reject(parsed);
    const { signal } = parsed;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const q = this.queues.get(key);
    if (q !== undefined && (q.waiting.head !== undefined || q.inFlight !== undefined)) {
      return this.join(q, parsed, this.now(), q.last);
    }
    if (!this.sync) return this.probe(key, parsed);
    let d: Decision;
    try {
      d = this.limiter.consumeSync(key, parsed.opts);
    } catch (error) {
      return Promise.reject(error);
    }
    if (d.allowed && d.delayMs === 0) return Promise.resolve(d);
    const now = this.now();
    const early =
      this.hopeless(d, now, deadlineOf(parsed, now), parsed.maxWaitMs) ??
      (this.held >= MAX_WAITERS ? overflow(d, "MAX_WAITERS", MAX_WAITERS) : undefined);
    if (early !== undefined) {
      // Admitted with a delay it cannot wait out (or no room to hold it): the caller will not
      // act, so the charge goes back.
      this.refundIfCharged(key, parsed.opts, d);
      return Promise.reject(early);
    }
    const queue = q ?? this.open(key, d);
    const w = this.waiter(queue, parsed, now);
    if (d.allowed) this.admit(queue, w, d, now);
    else {
      this.link(queue.waiting, w);
      this.answer(queue, w, d, now);
    }
    this.arm(queue, now);
    return w.promise;
  }

  /** A newcomer to a key that already has waiters: to the back of the line, or refused. */
  private join(q: KeyQueue, parsed: Parsed, now: number, d: Decision): Promise<Decision> {
    const w = this.waiter(q, parsed, now);
    this.enqueue(q, w, parsed.maxQueue, now, d);
    return w.promise;
  }

  /** Puts `w` at the back of `q`'s line, or refuses it (full, or its deadline cannot be met). */
  private enqueue(q: KeyQueue, w: Waiter, maxQueue: number, now: number, d: Decision): void {
    w.queue = q;
    const error =
      q.waiting.size >= maxQueue
        ? overflow(d, "maxQueue", maxQueue)
        : this.held >= MAX_WAITERS
          ? overflow(d, "MAX_WAITERS", MAX_WAITERS)
          : // FIFO: it cannot pass before the head, which cannot pass before readyAt.
            w.deadline < q.readyAt
            ? tooLate(q.last, w.maxWaitMs)
            : undefined;
    if (error !== undefined) {
      this.settle(w, undefined, error);
      return;
    }
    this.link(q.waiting, w);
    if (w.deadline < q.timerAt) {
      // Its deadline comes before the key's next wake: wake then, to try it in time.
      if (q.inFlight === undefined && w.deadline < q.wakeAt) q.wakeAt = w.deadline;
      this.arm(q, now);
    }
  }

  /** Remote stores: consume at once; only a refusal puts the caller in the key's queue. */
  private probe(key: string, parsed: Parsed): Promise<Decision> {
    const w = this.waiter(undefined, parsed, this.now());
    this.consume(key, parsed.opts).then(
      (d) => {
        const now = this.now();
        if (w.done) return this.refundIfCharged(key, w.opts, d);
        if (d.allowed && d.delayMs === 0) return this.settle(w, d);
        let q = this.queues.get(key);
        const error =
          this.hopeless(d, now, w.deadline, w.maxWaitMs) ??
          (this.held >= MAX_WAITERS ? overflow(d, "MAX_WAITERS", MAX_WAITERS) : undefined);
        if (error !== undefined) {
          this.refundIfCharged(key, w.opts, d);
          return this.settle(w, undefined, error);
        }
        if (
          q !== undefined &&
          !d.allowed &&
          (q.waiting.head !== undefined || q.inFlight !== undefined)
        ) {
          // Others queued while this call was out: behind them, as a newcomer.
          return this.enqueue(q, w, parsed.maxQueue, now, d);
        }
        q ??= this.open(key, d);
        w.queue = q;
        if (d.allowed) this.admit(q, w, d, now);
        else {
          this.link(q.waiting, w);
          this.answer(q, w, d, now);
        }
        this.arm(q, now);
      },
      (error) => {
        if (!w.done) this.settle(w, undefined, error);
      },
    );
    return w.promise;
  }

  /** The RateLimitedError for a refusal that waiting cannot cure, or undefined. */
  private hopeless(
    d: Decision,
    now: number,
    deadline: number,
    maxWaitMs: number | undefined,
  ): RateLimitedError | undefined {
    if (d.allowed) return now + d.delayMs > deadline ? tooLate(d, maxWaitMs) : undefined;
    if (!(d.retryAfterMs < Number.POSITIVE_INFINITY)) return new RateLimitedError(d);
    return now + retryMs(d) > deadline ? tooLate(d, maxWaitMs) : undefined;
  }

  private open(key: string, d: Decision): KeyQueue {
    const q = newKeyQueue(key, d);
    this.queues.set(key, q);
    return q;
  }

  private waiter(q: KeyQueue | undefined, parsed: Parsed, now: number): Waiter {
    return newWaiter(q, parsed, now, (w) => this.abort(w));
  }

  /** The key's timer fired, or its head changed: run what is due, then sleep again. */
  private drain(q: KeyQueue): void {
    this.clearTimer(q);
    const now = this.now();
    for (let w = q.delayed.head; w !== undefined && w.actAt <= now; w = q.delayed.head) {
      this.unlink(w);
      this.settle(w, w.admitted);
    }
    while (q.inFlight === undefined && q.waiting.head !== undefined && now >= q.wakeAt) {
      const w = q.waiting.head;
      if (!this.sync) {
        q.inFlight = w;
        this.consume(q.key, w.opts).then(
          (d) => this.answered(q, w, d, undefined),
          (error) => this.answered(q, w, undefined, error),
        );
        break;
      }
      let d: Decision;
      try {
        d = this.limiter.consumeSync(q.key, w.opts);
      } catch (error) {
        this.unlink(w);
        this.settle(w, undefined, error);
        continue;
      }
      this.answer(q, w, d, now);
    }
    this.arm(q, now);
  }

  /** A remote consume for the head came back. */
  private answered(q: KeyQueue, w: Waiter, d: Decision | undefined, error: unknown): void {
    q.inFlight = undefined;
    if (w.done) {
      // Aborted while the store was deciding: give back what it charged.
      if (d !== undefined) this.refundIfCharged(q.key, w.opts, d);
      q.wakeAt = Number.NEGATIVE_INFINITY;
    } else if (d === undefined) {
      this.unlink(w);
      this.settle(w, undefined, error);
      q.wakeAt = Number.NEGATIVE_INFINITY;
    } else {
      this.answer(q, w, d, this.now());
    }
    this.drain(q);
  }

  /**
   * The store's answer for the head `w`. Admitted: it leaves, and the next head is tried at
   * once (wakeAt stays in the past). Refused: it sleeps until readyAt, unless that is past its
   * deadline; waiters behind whose deadline comes before readyAt cannot make it (FIFO) and are
   * refused now rather than at their deadline.
   */
  private answer(q: KeyQueue, w: Waiter, d: Decision, now: number): void {
    if (d.allowed) {
      this.unlink(w);
      this.admit(q, w, d, now);
      return;
    }
    q.last = d;
    const error = this.hopeless(d, now, w.deadline, w.maxWaitMs);
    if (error !== undefined) {
      this.unlink(w);
      this.settle(w, undefined, error);
      q.readyAt = q.wakeAt = Number.NEGATIVE_INFINITY;
      return;
    }
    const wait = retryMs(d);
    q.readyAt = now + wait;
    q.wakeAt = Math.min(q.readyAt + this.jitter(wait), this.sweep(q, q.readyAt, false));
  }

  /**
   * Settles an admitted waiter, or holds it until its `delayMs` (leaky bucket "delay" mode:
   * the caller may act only then), past its deadline refunded and refused.
   */
  private admit(q: KeyQueue, w: Waiter, d: Decision, now: number): void {
    if (d.delayMs === 0) {
      this.settle(w, d);
    } else if (now + d.delayMs > w.deadline) {
      this.refundIfCharged(q.key, w.opts, d);
      this.settle(w, undefined, tooLate(d, w.maxWaitMs));
    } else {
      w.admitted = d;
      w.actAt = now + d.delayMs;
      w.queue = q;
      this.link(q.delayed, w);
    }
  }

  /**
   * Refuses every waiting caller (but the one in flight) whose deadline is before `cutoff`
   * (at or before it when `inclusive`); returns the earliest deadline left.
   */
  private sweep(q: KeyQueue, cutoff: number, inclusive: boolean): number {
    let earliest = Number.POSITIVE_INFINITY;
    // O(queue length), bounded by maxQueue, and only when some waiter set maxWaitMs.
    if (q.deadlines === 0) return earliest;
    for (let w = q.waiting.head; w !== undefined; ) {
      const next = w.next;
      if (w !== q.inFlight && (w.deadline < cutoff || (inclusive && w.deadline === cutoff))) {
        this.unlink(w);
        this.settle(w, undefined, tooLate(q.last, w.maxWaitMs));
      } else if (w !== q.inFlight && w.deadline < earliest) {
        earliest = w.deadline;
      }
      w = next;
    }
    return earliest;
  }

  /** Sets the key's one timer to its next event, or forgets the key when nothing is left. */
  private arm(q: KeyQueue, now: number): void {
    this.clearTimer(q);
    let at = Number.POSITIVE_INFINITY;
    if (q.inFlight !== undefined) {
      // The store is deciding for the head; the others' deadlines still run.
      if (q.waiting.head !== undefined) at = this.sweep(q, now, true);
    } else if (q.waiting.head !== undefined) {
      at = q.wakeAt;
    }
    const delayed = q.delayed.head;
    if (delayed !== undefined && delayed.actAt < at) at = delayed.actAt;
    if (at === Number.POSITIVE_INFINITY) {
      if (
        q.inFlight === undefined &&
        q.waiting.head === undefined &&
        q.delayed.head === undefined
      ) {
        this.queues.delete(q.key);
      }
      return;
    }
    q.timerAt = at;
    // A wait beyond the host's timer range (a long block) is slept in pieces: the timer fires
    // early, drain finds nothing due, and arms again.
    const ms = Math.min(Math.max(0, at - now), 2_147_483_647);
    q.timer = this.timers.setTimeout(() => {
      q.timer = undefined;
      this.drain(q);
    }, ms);
  }

  private clearTimer(q: KeyQueue): void {
    if (q.timer !== undefined) this.timers.clearTimeout(q.timer);
    q.timer = undefined;
    q.timerAt = Number.POSITIVE_INFINITY;
  }

  /**
   * Remote stores only: wait up to 10% longer (at most 25 ms), at random, so processes woken by
   * the same window opening spread their re-checks. The memory store answers exactly and in
   * process: no jitter, the wait is exactly retryAfterMs.
   */
  private jitter(waitMs: number): number {
    if (this.sync) return 0;
    return Math.floor(this.random() * (Math.min(MAX_JITTER_MS, Math.floor(waitMs / 10)) + 1));
  }

  private abort(w: Waiter): void {
    if (w.done) return;
    const q = w.queue;
    const list = w.list;
    const wasHead = q !== undefined && q.waiting.head === w;
    this.unlink(w);
    this.settle(w, undefined, w.signal?.reason);
    if (q === undefined || list === undefined) return; // a probe in flight: its answer refunds
    if (list === q.delayed) {
      // Admitted and charged, waiting out its delay: the caller will not act, give it back.
      this.refundIfCharged(q.key, w.opts, w.admitted!);
      this.arm(q, this.now());
    } else if (wasHead && q.inFlight !== w) {
      // The next waiter may fit where the old head did not: try it now.
      q.readyAt = q.wakeAt = Number.NEGATIVE_INFINITY;
      this.drain(q);
    }
    // Not the head, or its consume is out (answered() refunds and moves on): nothing to do.
  }

  /**
   * Gives back what an admission charged, for a caller that will not act on it. Best effort: a
   * refund the store fails leaves that charge spent, as a request that failed after admission
   * would; there is no caller left to tell.
   */
  private refundIfCharged(key: string, opts: ConsumeOptions, d: Decision): void {
    const cost = opts.cost ?? 1;
    if (d.allowed && cost > 0) this.limiter.refund(key, cost).catch(() => {});
  }

  /** consume as a promise even from a Limiter that throws instead of rejecting. */
  private consume(key: string, opts: ConsumeOptions): Promise<Decision> {
    try {
      return this.limiter.consume(key, opts);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private link(list: WaiterList, w: Waiter): void {
    if (list === w.queue?.delayed) list.insertByActAt(w);
    else list.push(w);
    this.held++;
    if (w.deadline !== Number.POSITIVE_INFINITY && list === w.queue?.waiting) w.queue.deadlines++;
  }

  private unlink(w: Waiter): void {
    const list = w.list;
    if (list === undefined) return;
    if (w.deadline !== Number.POSITIVE_INFINITY && list === w.queue?.waiting) w.queue.deadlines--;
    list.remove(w);
    this.held--;
  }

  private unwatch(w: Waiter): void {
    if (w.onAbort !== undefined) w.signal?.removeEventListener("abort", w.onAbort);
    w.onAbort = undefined;
  }

  private settle(w: Waiter, d: Decision | undefined, error?: unknown): void {
    w.done = true;
    this.unwatch(w);
    if (d !== undefined) w.resolve(d);
    else w.reject(error);
  }
}

/** The wait a refusal asks for, in whole ms and at least 1 (a refusal never means "now"). */
function retryMs(d: Decision): number {
  return Math.max(1, Math.ceil(d.retryAfterMs));
}
