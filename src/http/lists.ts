import { DURATION_FORM, type Duration, parseDuration } from "../core/duration.js";
import { ConfigError } from "../core/errors/config-error.js";
import type { ListEntry, ListKind, ListStore } from "../core/list-store.js";
import { type Cidr, cidrContains, type IpAddress, parseCidr } from "./ip-address.js";

/** Options for adding an entry. */
export type ListAddOptions = {
  /** How long the entry applies ("1h", ms); forever when omitted. @default undefined */
  for?: Duration;
  /** Why it was added; shown by `entries()` and the CLI. @default undefined */
  reason?: string;
};

/**
 * The allow and deny lists of an HTTP limiter. An entry is an identity key ("user:42",
 * "apikey:abc") or an IP address or CIDR ("203.0.113.7", "10.0.0.0/8", "2001:db8::/32"),
 * matched against the client address. Deny wins over allow. Entries live in the store, so every
 * process sharing it sees them (at once with stores that notify, within `listsRefresh` otherwise).
 *
 * @example
 * await limiter.lists.deny("198.51.100.0/24", { for: "1h", reason: "scraping" });
 * await limiter.lists.allow("user:ops");
 */
export interface HttpLists {
  /** Lets the value bypass every limit (reason "exempt"). */
  allow(value: string, options?: ListAddOptions): Promise<void>;
  /** Answers the value 403 (reason "denied"), whatever its limits. */
  deny(value: string, options?: ListAddOptions): Promise<void>;
  /** Takes the value off one list; true when it was there. */
  remove(list: ListKind, value: string): Promise<boolean>;
  /** Entries in force now (from the store; static `allow`/`deny` options are not included). */
  entries(list?: ListKind): Promise<ListEntry[]>;
  /** False when the store keeps no lists and these are this process's own. */
  readonly shared: boolean;
}

/** The entry a request matched: its list, expiry (Infinity: never) and reason. */
export type ListHit = {
  readonly list: ListKind;
  readonly expiresAt: number;
  readonly reason: string | undefined;
};

/** The entry per list of one key, so an allow outlives an expired deny. */
type KeyHit = { allow: ListHit | undefined; deny: ListHit | undefined };
type CidrHit = ListHit & { readonly cidr: Cidr };

const NEVER = Number.POSITIVE_INFINITY;

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Why a list value is invalid, or undefined. */
export function listValueProblem(value: unknown): string | undefined {
  return typeof value === "string" && value.length >= 1 && value.length <= 256 && !hasControl(value)
    ? undefined
    : "an identity key or an IP/CIDR: 1 to 256 characters, no control characters";
}

/** First retry after a failed load; doubled per failure up to `listsRefresh`. */
const FIRST_RETRY_MS = 1000;

/**
 * A compiled snapshot of the lists, so a request checks them with a Map lookup and a short CIDR
 * scan instead of a store round trip. The snapshot is rebuilt when the store signals a change
 * (awaited by the next request: a deny must apply at once) or, for stores that cannot signal,
 * every `refreshMs` in the background.
 *
 * A store outage never fails a request through the lists (issue 13, item 2): a load that fails
 * keeps the last good snapshot (only the static entries when no load ever succeeded) and is
 * retried in the background with backoff, never per request. A request waits on a load only
 * for the first snapshot and after a change signal, and then only as long as the store's own
 * call takes (the Redis store bounds it by its `timeout`, as it bounds a decision).
 */
export class ListIndex implements HttpLists {
  private keys = new Map<string, KeyHit>();
  private cidrs: CidrHit[] = [];
  /** True until the first load, and after each change signal: the next check awaits a reload. */
  private stale = true;
  /** The load in flight; it never rejects (a failure keeps the snapshot). */
  private loading: Promise<void> | undefined;
  /** True when requests must wait for the load in flight (first load, change signal). */
  private awaited = false;
  private nextPoll = 0;
  /** Consecutive failed loads; while > 0, loads are retried at `nextPoll` even if the store notifies. */
  private failures = 0;
  private readonly unsubscribe: (() => void) | undefined;
  /** Nothing on either list: checks cost one branch. */
  empty = true;

  constructor(
    /** Where the entries live (another limiter given these lists reads and writes there too). */
    readonly backend: ListStore,
    readonly shared: boolean,
    private readonly now: () => number,
    private readonly staticEntries: readonly { list: ListKind; value: string }[],
    private readonly refreshMs: number,
  ) {
    this.unsubscribe = backend.subscribe?.(() => {
      this.stale = true;
    });
    // The static entries apply from the start, whatever the store does.
    this.build([]);
    if (shared) {
      // Start loading now: requests arriving before it finishes wait for it (an in-process
      // store answers at once; a failing one leaves the static entries).
      void this.load(true);
    } else {
      // This process's own lists: empty but for the static entries, and only we change them.
      this.stale = false;
      this.nextPoll = Number.POSITIVE_INFINITY;
    }
  }

  /**
   * True when the request must wait for `ready()` first: before the first snapshot and after a
   * change signal. Otherwise starts a background load when one is due, and returns false.
   */
  get needsReload(): boolean {
    if (this.stale) return true;
    if (this.loading !== undefined) return this.awaited;
    if ((this.unsubscribe === undefined || this.failures > 0) && this.now() >= this.nextPoll)
      void this.load(false);
    return false;
  }

  /** Resolves once the snapshot a request must see is loaded, or its load failed. Never rejects. */
  ready(): Promise<void> {
    return this.load(true);
  }

  /** Starts a load unless one is in flight (callers share it); the promise never rejects. */
  private load(awaited: boolean): Promise<void> {
    if (awaited) this.awaited = true;
    if (this.loading !== undefined) {
      // A change signal that came after this load started (it cleared `stale` when it began):
      // its snapshot may predate the change, so the caller waits for the next one too.
      return this.stale ? this.loading.then(() => this.load(awaited)) : this.loading;
    }
    this.stale = false;
    if (this.backend.entriesSync !== undefined) {
      try {
        this.loaded(this.backend.entriesSync(this.now()));
      } catch {
        this.failed();
      }
      this.awaited = false;
      return Promise.resolve();
    }
    let entries: Promise<ListEntry[]>;
    try {
      entries = this.backend.entries(this.now());
    } catch (error) {
      entries = Promise.reject(error);
    }
    const loading = entries.then(
      (e) => {
        try {
          this.loaded(e);
        } catch {
          this.failed();
        }
      },
      () => this.failed(),
    );
    this.loading = loading.finally(() => {
      this.loading = undefined;
      this.awaited = false;
    });
    return this.loading;
  }

  private loaded(entries: readonly ListEntry[]): void {
    this.build(entries);
    this.failures = 0;
    this.nextPoll = this.now() + this.refreshMs;
  }

  private failed(): void {
    // Keep the last good snapshot; retry in the background, sooner than a normal poll at first.
    this.failures++;
    const backoff = FIRST_RETRY_MS * 2 ** Math.min(this.failures - 1, 16);
    this.nextPoll = this.now() + Math.min(this.refreshMs, backoff);
  }

  /** Reloads after a change made through this API: waits out a load that may predate it. */
  private async reloadAfterChange(): Promise<void> {
    if (this.loading !== undefined) await this.loading;
    await this.load(false);
  }

  /** The entry the client address matches (a deny wins), if any. */
  matchAddress(ip: IpAddress | undefined, now: number): ListHit | undefined {
    if (ip === undefined || this.cidrs.length === 0) return undefined;
    let found: ListHit | undefined;
    for (const hit of this.cidrs) {
      if (hit.expiresAt > now && cidrContains(hit.cidr, ip)) {
        if (hit.list === "deny") return hit;
        found ??= hit;
      }
    }
    return found;
  }

  /** The entry the identity key is on (a deny wins), if any. */
  matchKey(key: string, now: number): ListHit | undefined {
    const hit = this.keys.get(key);
    if (hit === undefined) return undefined;
    const { deny, allow } = hit;
    if (deny !== undefined && deny.expiresAt > now) return deny;
    return allow !== undefined && allow.expiresAt > now ? allow : undefined;
  }

  /**
   * Marks the snapshot stale: the next request waits for a reload. For changes made to the
   * store behind this index (the abuse detector's automatic blocks) on stores that cannot
   * signal them.
   */
  invalidate(): void {
    this.stale = true;
  }

  get hasAddresses(): boolean {
    return this.cidrs.length > 0;
  }

  allow(value: string, options?: ListAddOptions): Promise<void> {
    return this.add("allow", value, options);
  }

  deny(value: string, options?: ListAddOptions): Promise<void> {
    return this.add("deny", value, options);
  }

  async remove(list: ListKind, value: string): Promise<boolean> {
    checkList(list);
    const removed = await this.backend.remove(list, value);
    await this.reloadAfterChange();
    return removed;
  }

  async entries(list?: ListKind): Promise<ListEntry[]> {
    if (list !== undefined) checkList(list);
    const all = await this.backend.entries(this.now());
    return list === undefined ? all : all.filter((e) => e.list === list);
  }

  close(): void {
    this.unsubscribe?.();
  }

  private async add(list: ListKind, value: string, options: ListAddOptions = {}): Promise<void> {
    const problems = [];
    const valueProblem = listValueProblem(value);
    if (valueProblem !== undefined)
      problems.push({ option: `lists.${list}(value)`, received: value, expected: valueProblem });
    const ms = options.for === undefined ? undefined : parseDuration(options.for);
    if (options.for !== undefined && (ms === undefined || ms <= 0)) {
      problems.push({
        option: `lists.${list}(options.for)`,
        received: options.for,
        expected: `a positive duration: ${DURATION_FORM}`,
      });
    }
    if (
      options.reason !== undefined &&
      (typeof options.reason !== "string" || options.reason.length > 200)
    ) {
      problems.push({
        option: `lists.${list}(options.reason)`,
        received: options.reason,
        expected: "a string of at most 200 characters",
      });
    }
    if (problems.length > 0) throw new ConfigError(problems);
    const now = this.now();
    await this.backend.add(
      { list, value, expiresAt: ms === undefined ? undefined : now + ms, reason: options.reason },
      now,
    );
    // Our own change applies to our next request, whether or not the store notifies (unless the
    // store fails right after taking it: then the background retry brings it in).
    await this.reloadAfterChange();
  }

  private build(entries: readonly ListEntry[]): void {
    const keys = new Map<string, KeyHit>();
    const cidrs: CidrHit[] = [];
    const put = (list: ListKind, value: string, expiresAt: number, reason: string | undefined) => {
      const cidr = parseCidr(value);
      if (cidr !== undefined) {
        cidrs.push({ list, expiresAt, reason, cidr });
        return;
      }
      let hit = keys.get(value);
      if (hit === undefined) {
        hit = { allow: undefined, deny: undefined };
        keys.set(value, hit);
      }
      // The entry that lasts longest speaks for the key (a static entry never expires).
      const prior = hit[list];
      if (prior === undefined || expiresAt > prior.expiresAt)
        hit[list] = { list, expiresAt, reason };
    };
    for (const e of this.staticEntries) put(e.list, e.value, NEVER, undefined);
    for (const e of entries) put(e.list, e.value, e.expiresAt ?? NEVER, e.reason);
    this.keys = keys;
    this.cidrs = cidrs;
    this.empty = keys.size === 0 && cidrs.length === 0;
  }
}

function checkList(list: unknown): void {
  if (list !== "allow" && list !== "deny") {
    throw new ConfigError([{ option: "list", received: list, expected: '"allow" or "deny"' }]);
  }
}
