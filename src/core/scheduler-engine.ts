import type { ConcurrencyLimiter, Lease } from "./concurrency.js";
import type { Decision } from "./decision.js";
import { ConfigError } from "./errors/config-error.js";
import { RateLimitedError } from "./errors/rate-limited-error.js";
import type { Limiter } from "./limiter.js";
import type { ScheduledFn, ScheduleOptions, Scheduler } from "./scheduler.js";
import { type Entry, Lane, parseJob, refusal } from "./scheduler-queue.js";
import type { Timers } from "./timers.js";
import type { WaitOptions } from "./wait-for.js";

/**
 * A fleet slot refused because other processes hold every lease is asked for again after at
 * most this long (plus up to 25% jitter, so a fleet does not ask in step): no store tells a
 * process when another one releases. A release in this process is retaken at once.
 */
const SLOT_POLL_MS = 50;
/** The local slot: a job holding it counts against a numeric `concurrency`. */
const LOCAL = Symbol("local slot");
type Slot = Lease | typeof LOCAL | undefined;

/** The scheduler behind createScheduler (options already checked there). */
export class JobScheduler implements Scheduler {
  /** Keys with jobs queued or a head being admitted; a lane goes when it has neither. */
  private readonly lanes = new Map<string, Lane>();
  private readonly fleet: ConcurrencyLimiter | undefined;
  /** Local slots left (numeric concurrency); Infinity when there is no local cap. */
  private free: number;
  private queued = 0;
  private admitting = 0;
  private running = 0;
  /** Leases being given back: idle() waits for them, so a slot is free once idle resolves. */
  private returning = 0;
  private seq = 0;
  private idlers: (() => void)[] = [];
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
    const own = (timers as { now?: unknown }).now;
    this.now =
      typeof own === "function"
        ? () => (own as () => number).call(timers)
        : () => performance.now();
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
        onAbort: undefined,
        deadline: maxWaitMs === undefined ? Number.POSITIVE_INFINITY : this.now() + maxWaitMs,
        maxWaitMs,
        timer: undefined,
        level: undefined,
        prev: undefined,
        next: undefined,
      };
      if (signal !== undefined) {
        e.onAbort = () => this.drop(e, signal.reason);
        signal.addEventListener("abort", e.onAbort, { once: true });
      }
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
      lane.busy = false;
    }
    this.settled(lane);
  }

  /** Takes a queued entry out of its lane and stops watching its signal and deadline. */
  private leave(e: Entry): void {
    e.lane.remove(e);
    this.queued--;
    if (e.onAbort !== undefined) e.signal!.removeEventListener("abort", e.onAbort);
    e.onAbort = undefined;
    if (e.timer !== undefined) this.timers.clearTimeout(e.timer);
    e.timer = undefined;
  }

  /** Starts admitting the next job(s) where a lane, or a local slot, is free. */
  private pump(lane: Lane): void {
    if (this.free !== Number.POSITIVE_INFINITY) {
      this.pumpLocal();
    } else if (!lane.busy && lane.size > 0) {
      lane.busy = true;
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
      best.lane.busy = true;
      this.admit(best, LOCAL);
    }
  }

  /** Fleet concurrency: a lease on the lane's key first, then the head at that moment runs. */
  private askSlot(lane: Lane): void {
    lane.retry = undefined;
    if (lane.size === 0) {
      lane.busy = false;
      this.settled(lane);
      return;
    }
    const fleet = this.fleet!;
    let asked: ReturnType<ConcurrencyLimiter["acquire"]>;
    try {
      asked = fleet.acquire(lane.key);
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
        lane.busy = false;
        this.settled(lane);
      },
      (error: unknown) => {
        // The store failed in a way onStoreError did not answer: the head fails with it, so
        // the queue moves on instead of wedging.
        const e = lane.peek();
        lane.busy = false;
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
  private admit(e: Entry, slot: Slot): void {
    this.leave(e);
    this.admitting++;
    let waiting: Promise<Decision>;
    try {
      waiting = this.limiter.waitFor(e.lane.key, this.waitOptions(e));
    } catch (error) {
      waiting = Promise.reject(error);
    }
    waiting.then(
      () => {
        this.admitting--;
        e.lane.busy = false;
        this.run(e, slot);
        this.settled(e.lane);
      },
      (error: unknown) => {
        this.admitting--;
        e.lane.busy = false;
        e.reject(error);
        this.release(e.lane.key, slot);
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

  private run(e: Entry, slot: Slot): void {
    this.running++;
    const renewal = slot !== undefined && slot !== LOCAL ? this.keepAlive(slot) : undefined;
    const done = () => {
      if (renewal !== undefined) renewal.stop();
      this.running--;
      this.release(e.lane.key, slot);
    };
    let out: unknown;
    try {
      out = e.fn(e.signal);
    } catch (error) {
      e.reject(error);
      done();
      return;
    }
    if (typeof (out as PromiseLike<unknown> | null)?.then !== "function") {
      e.resolve(out);
      done();
      return;
    }
    Promise.resolve(out).then(
      (value) => {
        e.resolve(value);
        done();
      },
      (error: unknown) => {
        e.reject(error);
        done();
      },
    );
  }

  /** Gives a slot back, and lets the next job have it. */
  private release(key: string, slot: Slot): void {
    if (slot === LOCAL) {
      this.free++;
      this.pumpLocal();
      this.checkIdle();
    } else if (slot === undefined) {
      this.checkIdle();
    } else {
      this.giveBack(key, slot);
    }
  }

  private giveBack(key: string, lease: Lease): void {
    this.returning++;
    const back = () => {
      this.returning--;
      // Freed here: our own waiting job for this key takes it now, not at its next re-ask.
      const lane = this.lanes.get(key);
      if (lane !== undefined && lane.retry !== undefined) {
        this.timers.clearTimeout(lane.retry);
        this.askSlot(lane);
      }
      this.checkIdle();
    };
    let given: Promise<boolean>;
    try {
      given = this.fleet!.release(lease);
    } catch (error) {
      given = Promise.reject(error);
    }
    // release never rejects for an outage; a lease it cannot free expires at expiresAt.
    given.then(back, back);
  }

  /** Renews a running job's lease every leaseMs / 2 until stopped. */
  private keepAlive(lease: Lease): { stop(): void } {
    const fleet = this.fleet!;
    const every = Math.max(1, Math.floor(fleet.leaseMs / 2));
    let current = lease;
    let stopped = false;
    let handle: unknown;
    const tick = () => {
      fleet.renew(current).then(
        (renewed) => {
          // false: the lease was lost (expired during an outage); the job goes on uncounted.
          if (stopped || renewed === false) return;
          current = renewed;
          handle = this.timers.setTimeout(tick, every);
        },
        () => {
          if (!stopped) handle = this.timers.setTimeout(tick, every);
        },
      );
    };
    handle = this.timers.setTimeout(tick, every);
    return {
      stop: () => {
        stopped = true;
        this.timers.clearTimeout(handle);
      },
    };
  }

  /** Forgets a lane with nothing left in it, or moves it on to its next job. */
  private settled(lane: Lane): void {
    if (lane.size === 0 && !lane.busy) {
      if (this.lanes.get(lane.key) === lane) this.lanes.delete(lane.key);
    } else {
      this.pump(lane);
    }
    this.checkIdle();
  }

  private isIdle(): boolean {
    return this.lanes.size === 0 && this.running === 0 && this.returning === 0;
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
