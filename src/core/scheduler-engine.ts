import type { ConcurrencyLimiter, Lease } from "./concurrency.js";
import type { Decision } from "./decision.js";
import { ConfigError } from "./errors/config-error.js";
import { RateLimitedError } from "./errors/rate-limited-error.js";
import type { Limiter } from "./limiter.js";
import type { ScheduledFn, ScheduleOptions, Scheduler } from "./scheduler.js";
import { AbortWatch, type Entry, Lane, LOCAL, parseJob, refusal } from "./scheduler-queue.js";
import { type Timers, timersNow } from "./timers.js";
import type { WaitOptions } from "./wait-for.js";

/**
 * A fleet slot refused because other processes hold every lease is asked for again after at
 * most this long (plus up to 25% jitter, so a fleet does not ask in step): no store tells a
 * process when another one releases. A release in this process is retaken at once.
 */
const SLOT_POLL_MS = 50;

/** The scheduler behind createScheduler (options already checked there). */
export class JobScheduler implements Scheduler {
  /** Keys with jobs queued or a lane busy; the default key's lane is kept (no churn). */
  private readonly lanes = new Map<string, Lane>();
  private readonly fleet: ConcurrencyLimiter | undefined;
  /** Local slots left (numeric concurrency); Infinity when there is no local cap. */
  private free: number;
  private queued = 0;
  /** Lanes taking a slot or a rate for their head. */
  private busy = 0;
  private admitting = 0;
  private running = 0;
  /** Leases being given back: idle() waits for them, so a slot is free once idle resolves. */
  private returning = 0;
  private seq = 0;
  private idlers: (() => void)[] = [];
  private readonly aborts = new AbortWatch((e, reason) => this.drop(e, reason));
  /** The time maxWaitMs is measured in: the timers' own (a manual clock's) or monotonic. */
  private readonly now: () => number;

  constructor(
    readonly limiter: Limiter,
    concurrency: number | ConcurrencyLimiter | undefined,
    private readonly key: string,
    private readonly maxQueue: number,
    private readonly timers: Timers,
  ) {
    this.fleet = typeof concurrency === "object" ? concurrency : undefined;
    this.free = typeof concurrency === "number" ? concurrency : Number.POSITIVE_INFINITY;
    this.now = timersNow(timers);
  }

  get size(): number {
    return this.queued + this.admitting;
  }

  get pending(): number {
    return this.running;
  }

  schedule<T>(fn: ScheduledFn<T>, options?: ScheduleOptions): Promise<T> {
    const job = parseJob(fn, options);
    if (job instanceof ConfigError) return Promise.reject(job);
    const { signal, maxWaitMs } = job;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.size >= this.maxQueue) {
      return Promise.reject(
        new RateLimitedError(
          refusal(this.limiter),
          `rate limited: the scheduler's queue is full (maxQueue ${this.maxQueue})`,
        ),
      );
    }
    const key = job.key ?? this.key;
    return new Promise<T>((resolve, reject) => {
      let lane = this.lanes.get(key);
      if (lane === undefined) {
        lane = new Lane(key);
        this.lanes.set(key, lane);
      }
      const e: Entry = {
        fn,
        resolve: resolve as (value: unknown) => void,
        reject,
        lane,
        cost: job.cost,
        priority: job.priority,
        seq: this.seq++,
        signal,
        deadline: maxWaitMs === undefined ? Number.POSITIVE_INFINITY : this.now() + maxWaitMs,
        maxWaitMs,
        timer: undefined,
        slot: undefined,
        renewal: undefined,
        level: undefined,
        prev: undefined,
        next: undefined,
      };
      if (signal !== undefined) this.aborts.add(e, signal);
      if (maxWaitMs !== undefined) {
        e.timer = this.timers.setTimeout(() => this.drop(e, tooLate(this.limiter, e)), maxWaitMs);
      }
      lane.push(e);
      this.queued++;
      this.pump(lane);
    });
  }

  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idlers.push(resolve));
  }

  /** A queued job was aborted, or waited past maxWaitMs: it leaves at once, charging nothing. */
  private drop(e: Entry, error: unknown): void {
    if (e.level === undefined) return; // taken already: waitFor answers the abort or deadline
    const lane = e.lane;
    this.leave(e);
    e.reject(error);
    if (lane.size === 0 && lane.retry !== undefined) {
      // Nobody is left to take the slot being waited for.
      this.timers.clearTimeout(lane.retry);
      lane.retry = undefined;
      this.setBusy(lane, false);
    }
    this.settled(lane);
  }

  /** Takes a queued entry out of its lane and stops watching its signal and deadline. */
  private leave(e: Entry): void {
    e.lane.remove(e);
    this.queued--;
    if (e.signal !== undefined) this.aborts.delete(e, e.signal);
    if (e.timer !== undefined) this.timers.clearTimeout(e.timer);
    e.timer = undefined;
  }

  private setBusy(lane: Lane, busy: boolean): void {
    if (lane.busy === busy) return;
    lane.busy = busy;
    this.busy += busy ? 1 : -1;
  }

  /** Starts admitting the next job(s) where a lane, or a local slot, is free. */
  private pump(lane: Lane): void {
    if (this.free !== Number.POSITIVE_INFINITY) {
      this.pumpLocal();
    } else if (!lane.busy && lane.size > 0) {
      this.setBusy(lane, true);
      if (this.fleet === undefined) this.admit(lane.peek()!, undefined);
      else this.askSlot(lane);
    }
  }

  /** Numeric concurrency: each free slot goes to the best head of any lane not busy. */
  private pumpLocal(): void {
    while (this.free > 0) {
      let best: Entry | undefined;
      for (const lane of this.lanes.values()) {
        const head = lane.busy ? undefined : lane.peek();
        if (
          head !== undefined &&
          (best === undefined ||
            head.priority > best.priority ||
            (head.priority === best.priority && head.seq < best.seq))
        ) {
          best = head;
        }
      }
      if (best === undefined) return;
      this.free--;
      this.setBusy(best.lane, true);
      this.admit(best, LOCAL);
    }
  }

  /** Fleet concurrency: a lease on the lane's key first, then the head at that moment runs. */
  private askSlot(lane: Lane): void {
    lane.retry = undefined;
    if (lane.size === 0) {
      this.setBusy(lane, false);
      this.settled(lane);
      return;
    }
    let asked: ReturnType<ConcurrencyLimiter["acquire"]>;
    try {
      asked = this.fleet!.acquire(lane.key);
    } catch (error) {
      asked = Promise.reject(error);
    }
    asked.then(
      (r) => {
        if (!r.allowed) {
          // Held elsewhere (or the store is down, fail-closed): ask again soon.
          const wait = Math.min(r.decision.retryAfterMs, SLOT_POLL_MS);
          lane.retry = this.timers.setTimeout(
            () => this.askSlot(lane),
            Math.max(1, wait + Math.random() * wait * 0.25),
          );
          return;
        }
        const e = lane.peek();
        if (e !== undefined) {
          this.admit(e, r.lease);
          return;
        }
        // Every job of this key left while the lease was asked for.
        this.giveBack(lane.key, r.lease);
        this.setBusy(lane, false);
        this.settled(lane);
      },
      (error: unknown) => {
        // The store failed in a way onStoreError did not answer: the head fails with it, so
        // the queue moves on instead of wedging.
        const e = lane.peek();
        this.setBusy(lane, false);
        if (e !== undefined) {
          this.leave(e);
          e.reject(error);
        }
        this.settled(lane);
      },
    );
  }

  /**
   * The lane's head `e` holds its slot (if any); now its rate. It runs the moment the rate
   * admits it: nothing between the store's admission and the call but a promise callback, so
   * what the vendor sees is as close to the admissions as this process can make it.
   */
  private admit(e: Entry, slot: Entry["slot"]): void {
    this.leave(e);
    this.admitting++;
    e.slot = slot;
    let waiting: Promise<Decision>;
    try {
      waiting = this.limiter.waitFor(e.lane.key, this.waitOptions(e));
    } catch (error) {
      waiting = Promise.reject(error);
    }
    waiting.then(
      () => {
        this.admitting--;
        this.setBusy(e.lane, false);
        this.run(e);
        this.settled(e.lane);
      },
      (error: unknown) => {
        this.admitting--;
        this.setBusy(e.lane, false);
        e.reject(error);
        this.release(e);
        this.settled(e.lane);
      },
    );
  }

  /** waitFor's options for `e`: none in the common case (cost 1, no signal, no deadline). */
  private waitOptions(e: Entry): WaitOptions | undefined {
    if (e.signal === undefined && e.maxWaitMs === undefined && e.cost === 1) return undefined;
    const options: WaitOptions = { cost: e.cost };
    if (e.signal !== undefined) options.signal = e.signal;
    // What is left of the job's maxWaitMs; waitFor refuses at once if that cannot be met.
    if (e.maxWaitMs !== undefined) options.maxWaitMs = Math.max(1, e.deadline - this.now());
    return options;
  }

  private run(e: Entry): void {
    this.running++;
    if (e.slot !== undefined && e.slot !== LOCAL) this.renewLater(e, e.slot);
    let out: unknown;
    try {
      out = e.fn(e.signal);
    } catch (error) {
      e.reject(error);
      this.ended(e);
      return;
    }
    if (typeof (out as PromiseLike<unknown> | null)?.then !== "function") {
      e.resolve(out);
      this.ended(e);
      return;
    }
    (out as PromiseLike<unknown>).then(
      (value) => {
        e.resolve(value);
        this.ended(e);
      },
      (error: unknown) => {
        e.reject(error);
        this.ended(e);
      },
    );
  }

  private ended(e: Entry): void {
    if (e.renewal !== undefined) this.timers.clearTimeout(e.renewal);
    e.renewal = undefined;
    this.running--;
    this.release(e);
  }

  /** Gives the entry's slot back, and lets the next job have it. */
  private release(e: Entry): void {
    const slot = e.slot;
    e.slot = undefined;
    if (slot === LOCAL) {
      this.free++;
      this.pumpLocal();
    } else if (slot !== undefined) {
      this.giveBack(e.lane.key, slot);
    }
    this.checkIdle();
  }

  private giveBack(key: string, lease: Lease): void {
    this.returning++;
    let given: Promise<boolean>;
    try {
      given = this.fleet!.release(lease);
    } catch (error) {
      given = Promise.reject(error);
    }
    // release never rejects for an outage; a lease it cannot free expires at expiresAt.
    given.then(
      () => this.givenBack(key),
      () => this.givenBack(key),
    );
  }

  private givenBack(key: string): void {
    this.returning--;
    // Freed here: our own waiting job for this key takes it now, not at its next re-ask.
    const lane = this.lanes.get(key);
    if (lane !== undefined && lane.retry !== undefined) {
      this.timers.clearTimeout(lane.retry);
      this.askSlot(lane);
    }
    this.checkIdle();
  }

  /** Renews a running job's lease every leaseMs / 2 until the job ends. */
  private renewLater(e: Entry, lease: Lease): void {
    const fleet = this.fleet!;
    e.renewal = this.timers.setTimeout(
      () => {
        fleet.renew(lease).then(
          (renewed) => {
            // false: the lease was lost (expired during an outage); the job goes on uncounted.
            if (e.slot === lease && renewed !== false) this.renewLater(e, lease);
          },
          () => {
            if (e.slot === lease) this.renewLater(e, lease);
          },
        );
      },
      Math.max(1, Math.floor(fleet.leaseMs / 2)),
    );
  }

  /** Forgets a lane with nothing left in it (but the default key's), or moves it on. */
  private settled(lane: Lane): void {
    if (lane.size > 0 || lane.busy) this.pump(lane);
    else if (lane.key !== this.key && this.lanes.get(lane.key) === lane) {
      this.lanes.delete(lane.key);
    }
    this.checkIdle();
  }

  private isIdle(): boolean {
    return this.queued === 0 && this.busy === 0 && this.running === 0 && this.returning === 0;
  }

  private checkIdle(): void {
    if (this.idlers.length === 0 || !this.isIdle()) return;
    const idlers = this.idlers;
    this.idlers = [];
    for (const resolve of idlers) resolve();
  }
}

function tooLate(limiter: Limiter, e: Entry): RateLimitedError {
  return new RateLimitedError(
    refusal(limiter),
    `rate limited: the job did not start within maxWaitMs (${e.maxWaitMs} ms)`,
  );
}
