/**
 * Allow and deny lists kept beside limiter state, so every process of a fleet that shares a
 * store also shares them (ratethrottle's whitelist/blacklist, made fleet-wide and expiring).
 * Values are opaque here: the HTTP layer decides what they mean (an identity key, an IP or a
 * CIDR). Time is the caller's clock in ms, as for limiter state.
 */

/** Which list an entry belongs to. */
export type ListKind = "allow" | "deny";

/** One entry as stored. */
export type ListEntry = {
  readonly list: ListKind;
  /** An identity key ("user:42") or an address or CIDR ("203.0.113.7", "10.0.0.0/8"). */
  readonly value: string;
  /** When the entry was added (ms). */
  readonly addedAt: number;
  /** When the entry stops applying (ms); undefined: never. */
  readonly expiresAt: number | undefined;
  /** Free text shown by list APIs and the CLI. */
  readonly reason: string | undefined;
};

/** What `add` takes: an entry without `addedAt`, which the store fills from `now`. */
export type ListEntryInput = {
  readonly list: ListKind;
  readonly value: string;
  readonly expiresAt?: number | undefined;
  readonly reason?: string | undefined;
};

/**
 * Lists of one namespace. Adding a value already on a list replaces that entry (new expiry,
 * new reason); a value may sit on both lists, and readers decide which wins (the HTTP layer:
 * deny).
 */
export interface ListStore {
  add(entry: ListEntryInput, now: number | undefined): Promise<void>;
  /** Removes the value from one list; true when it was there (expired or not). */
  remove(list: ListKind, value: string): Promise<boolean>;
  /** Every entry of both lists still in force at `now`, oldest first. */
  entries(now: number | undefined): Promise<ListEntry[]>;
  /**
   * Synchronous twin of `entries`, for in-process stores: readers can then load a snapshot
   * without making the first request wait on a promise.
   */
  entriesSync?(now: number | undefined): ListEntry[];
  /**
   * Calls `listener` after any change to this namespace, made by this handle or any other
   * (other processes too, where the store can tell). Returns the unsubscribe function. Stores
   * that cannot notify leave it out; readers then poll `entries`.
   */
  subscribe?(listener: () => void): () => void;
}
