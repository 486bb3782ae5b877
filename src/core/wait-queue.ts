import type { Decision } from "./decision.js";
import type { ConsumeOptions } from "./limiter.js";
import { deadlineOf, type Parsed } from "./wait-options.js";

/** One caller of `waitFor`, from its call until its promise settles. Internal to wait-for.ts. */
export type Waiter = {
  readonly promise: Promise<Decision>;
  readonly resolve: (d: Decision) => void;
  readonly reject: (e: unknown) => void;
  readonly opts: ConsumeOptions;
  /** When it gives up, in the timers' time; Infinity without maxWaitMs. */
  readonly deadline: number;
  readonly maxWaitMs: number | undefined;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Its key's queue, once it has one (a remote first try has none until refused). */
  queue: KeyQueue | undefined;
  /** The list it is in (its queue's waiting or delayed list), if any. */
  list: WaiterList | undefined;
  prev: Waiter | undefined;
  next: Waiter | undefined;
  /** The admitting decision while it waits out a leaky bucket's delayMs. */
  admitted: Decision | undefined;
  /** When that delay ends. */
  actAt: number;
  /** Settled (resolved, rejected or aborted): nothing more happens to it. */
  done: boolean;
};

/**
 * A doubly linked list of waiters: an aborted waiter leaves in O(1) from anywhere in the line,
 * which an array would make O(n) (a queue of maxQueue callers aborting one by one: O(n²)).
 */
export class WaiterList {
  head: Waiter | undefined = undefined;
  tail: Waiter | undefined = undefined;
  size = 0;

  push(w: Waiter): void {
    w.list = this;
    w.prev = this.tail;
    w.next = undefined;
    if (this.tail === undefined) this.head = w;
    else this.tail.next = w;
    this.tail = w;
    this.size++;
  }

  /**
   * Inserts `w` after every waiter that acts no later than it. Admissions on one key act in
   * the order they are made, so this is an append, except when a remote store's answers come
   * back out of order (a few steps back from the tail at most).
   */
  insertByActAt(w: Waiter): void {
    let after = this.tail;
    while (after !== undefined && after.actAt > w.actAt) after = after.prev;
    w.list = this;
    w.prev = after;
    w.next = after === undefined ? this.head : after.next;
    if (w.prev === undefined) this.head = w;
    else w.prev.next = w;
    if (w.next === undefined) this.tail = w;
    else w.next.prev = w;
    this.size++;
  }

  remove(w: Waiter): void {
    if (w.list !== this) return;
    if (w.prev === undefined) this.head = w.next;
    else w.prev.next = w.next;
    if (w.next === undefined) this.tail = w.prev;
    else w.next.prev = w.prev;
    w.list = w.prev = w.next = undefined;
    this.size--;
  }
}

/** The state of one key that has callers waiting. Times are in the timers' time. */
export type KeyQueue = {
  readonly key: string;
  /** Callers not yet admitted, first come first served; only the head consumes. */
  readonly waiting: WaiterList;
  /**
   * Callers admitted with a leaky bucket's delayMs, until they may act. Their act times only
   * grow along the list (each admission queues behind the work admitted before it).
   */
  readonly delayed: WaiterList;
  /** Waiting callers with a deadline (maxWaitMs): without any, no scan for deadlines is needed. */
  deadlines: number;
  /** The head whose remote consume is out; nobody else consumes until it answers. */
  inFlight: Waiter | undefined;
  /** The earliest time the head can pass, from its latest refusal. */
  readyAt: number;
  /** When the head is tried next (readyAt, plus jitter, or earlier for a deadline). */
  wakeAt: number;
  /** The key's one timer, and when it fires (Infinity when none). */
  timer: unknown;
  timerAt: number;
  /** The key's latest refusal: the decision a caller refused for the queue's sake carries. */
  last: Decision;
};

export function newKeyQueue(key: string, last: Decision): KeyQueue {
  return {
    key,
    waiting: new WaiterList(),
    delayed: new WaiterList(),
    deadlines: 0,
    inFlight: undefined,
    readyAt: Number.NEGATIVE_INFINITY,
    wakeAt: Number.NEGATIVE_INFINITY,
    timer: undefined,
    timerAt: Number.POSITIVE_INFINITY,
    last,
  };
}

/** A waiter for `parsed`, listening to its signal (if any) with `onAbort`. */
export function newWaiter(
  q: KeyQueue | undefined,
  parsed: Parsed,
  now: number,
  onAbort: (w: Waiter) => void,
): Waiter {
  let resolve!: (d: Decision) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<Decision>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  const w: Waiter = {
    promise,
    resolve,
    reject,
    opts: parsed.opts,
    deadline: deadlineOf(parsed, now),
    maxWaitMs: parsed.maxWaitMs,
    signal: parsed.signal,
    onAbort: undefined,
    queue: q,
    list: undefined,
    prev: undefined,
    next: undefined,
    admitted: undefined,
    actAt: 0,
    done: false,
  };
  if (parsed.signal !== undefined) {
    const listener = () => onAbort(w);
    w.onAbort = listener;
    parsed.signal.addEventListener("abort", listener, { once: true });
  }
  return w;
}
