import type { Decision } from "../core/decision.js";
import type { Duration } from "../core/duration.js";
import { ConfigError } from "../core/errors/config-error.js";
import { warn } from "../core/logger.js";
import type { Engine } from "./engine.js";
import type { HttpLimiter } from "./http-limiter.js";
import type { InFlight } from "./in-flight.js";
import {
  checkBlockDuration,
  countersOf,
  eachCounter,
  type KeyOptions,
  peekCounters,
} from "./key-management.js";
import type { ListIndex } from "./lists.js";
import type { HttpLimiterOptions, HttpOutcome } from "./options.js";
import type { Fixed } from "./reload-fixed.js";
import type { HttpRequest, MaybePromise } from "./request.js";
import { Watching } from "./watch.js";

/** Runs `f`, turning a synchronous throw (a ConfigError) into a rejection. */
function run<T>(f: () => Promise<T>): Promise<T> {
  try {
    return f();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** What a caller of `reload()` may say about the new configuration. */
export type ReloadInfo = {
  /** Where it came from (a file name): carried by the `reloadRejected` event. */
  readonly source?: string;
};

/** Builds one configuration's engine: the first (no `running`) or a reload's. Throws ConfigError. */
export type Compile<Raw> = (
  options: HttpLimiterOptions<Raw>,
  running: Running<Raw> | undefined,
) => Running<Raw>;

/** A configuration in force: what never changes, and the engine of the current options. */
export type Running<Raw> = { readonly fixed: Fixed; readonly engine: Engine<Raw> };

/**
 * The HttpLimiter createHttpLimiter returns: the engine of the current configuration, swapped
 * whole by `reload()` (issue 18). `handle` reads `current` once, so a request finishes on the
 * engine it started with and the next one sees the new engine; nothing is ever half swapped.
 */
export class LiveLimiter<Raw> extends Watching implements HttpLimiter<Raw> {
  private current: Engine<Raw>;
  /**
   * Renewal timers of replaced configurations whose requests still hold slots. Each stops its
   * own timer at its first tick with nothing held; close() stops the rest.
   */
  private readonly draining = new Set<InFlight>();
  private closed = false;

  constructor(
    private readonly fixed: Fixed,
    first: Engine<Raw>,
    private readonly compile: Compile<Raw>,
  ) {
    super({ events: fixed.events, collector: fixed.collector, protect: fixed.protect });
    this.current = first;
  }

  handle(req: HttpRequest<Raw>): MaybePromise<HttpOutcome> {
    return this.current.handle(req);
  }

  get lists(): ListIndex {
    return this.current.lists;
  }

  clientAddress(req: HttpRequest<Raw>): string | undefined {
    return this.current.clientAddress(req);
  }

  keyOf(req: HttpRequest<Raw>): Promise<string | undefined> {
    return this.current.keyOf(req);
  }

  // Key management acts on the engine current when it is called (issue 19 item 2): counters
  // live in the store, so a rule kept by a reload keeps them and these reach them.
  resetKey(key: string, options?: KeyOptions): Promise<void> {
    return run(() =>
      eachCounter(countersOf(this.current.rules, key, options, "resetKey"), (l, k) => l.reset(k)),
    );
  }

  getKey(
    key: string,
    options: KeyOptions & { readonly rule: string },
  ): Promise<Decision | undefined>;
  getKey(key: string, options?: KeyOptions): Promise<Record<string, Decision>>;
  getKey(
    key: string,
    options?: KeyOptions,
  ): Promise<Record<string, Decision> | Decision | undefined> {
    return run(async () => {
      const all = await peekCounters(countersOf(this.current.rules, key, options, "getKey"));
      return options?.rule === undefined ? all : all[options.rule];
    });
  }

  block(key: string, duration: Duration, options?: KeyOptions): Promise<void> {
    return run(() => {
      checkBlockDuration(duration);
      const counters = countersOf(this.current.rules, key, options, "block");
      return eachCounter(counters, (l, k) => l.block(k, duration));
    });
  }

  unblock(key: string, options?: KeyOptions): Promise<void> {
    return run(() =>
      eachCounter(countersOf(this.current.rules, key, options, "unblock"), (l, k) => l.unblock(k)),
    );
  }

  get logger() {
    return this.fixed.logger;
  }

  get shed() {
    return this.fixed.shed;
  }

  reload(options: HttpLimiterOptions<Raw>, info: ReloadInfo = {}): void {
    const fixed = this.fixed;
    const old = this.current;
    let next: Engine<Raw>;
    try {
      if (this.closed) {
        throw new ConfigError([
          { option: "reload", received: "a closed limiter", expected: "a limiter not closed" },
        ]);
      }
      next = this.compile(options, { fixed, engine: old }).engine;
    } catch (error) {
      if (error instanceof ConfigError) this.rejected(error, info.source);
      throw error;
    }
    // The swap: one assignment. Requests already past `handle` keep the engine they hold.
    this.current = next;
    fixed.current.lists = next.lists;
    // Replaced lists only stop listening to the store: a request of the old engine still reads
    // their last snapshot.
    if (old.lists !== next.lists) old.lists.close();
    const held = old.capacity.inFlight;
    if (held !== undefined && held !== next.capacity.inFlight) this.drain(held);
    const time = (fixed.clock ?? Date.now)();
    fixed.events.emit("reloaded", { type: "reloaded", time, rules: next.ruleNames });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.current.capacity.inFlight?.close();
    for (const d of this.draining) d.close();
    this.draining.clear();
    if (this.current.lists !== this.fixed.borrowedLists) this.current.lists.close();
    await this.fixed.collector?.close();
    if (this.fixed.ownStore) await this.fixed.store.close?.();
  }

  /** Keeps renewing the slots old requests hold until they end; forgets timers already idle. */
  private drain(inFlight: InFlight): void {
    for (const d of this.draining) if (d.size === 0) this.draining.delete(d);
    if (inFlight.size > 0) this.draining.add(inFlight);
    // An InFlight with nothing held stops its timer at its next tick (or has none).
    else inFlight.close();
  }

  /** A refused reload: one event and one log line, never more, then the caller gets the error. */
  private rejected(error: ConfigError, source: string | undefined): void {
    const { events, logger, clock } = this.fixed;
    const time = (clock ?? Date.now)();
    events.emit("reloadRejected", {
      type: "reloadRejected",
      time,
      error,
      ...(source !== undefined ? { source } : {}),
    });
    const from = source === undefined ? "" : ` from ${source}`;
    warn(
      logger,
      "WARN_TK_RELOAD_REJECTED",
      `a reload${from} was refused and the running configuration keeps serving: ${error.message}`,
    );
  }
}
