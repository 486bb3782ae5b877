/**
 * A Map with a fixed capacity that forgets the least recently used entry when full: the client
 * table of the abuse detector, and its table of blocks. A flood of distinct identifiers (one per
 * request, spoofed addresses, random API keys) costs a constant amount of memory: the table
 * stays at `capacity`, and what it forgets are the clients seen longest ago.
 *
 * Map iteration order is insertion order, so "touching" an entry is a delete and a re-insert,
 * and the oldest entry is the first key. Both are O(1).
 */
export class BoundedTable<V> {
  private readonly map = new Map<string, V>();
  /** The key last touched or set: touching it again needs no re-insert. */
  private newest: string | undefined = undefined;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  /** The value, marked as just used. */
  touch(key: string): V | undefined {
    const map = this.map;
    const value = map.get(key);
    if (value === undefined) return undefined;
    // Re-insert only when not already the newest: a client sending many requests in a row
    // (a flood) pays one lookup, not a delete and a set each time.
    if (this.newest !== key) {
      map.delete(key);
      map.set(key, value);
      this.newest = key;
    }
    return value;
  }

  /** The value without marking it used. */
  peek(key: string): V | undefined {
    return this.map.get(key);
  }

  /** Adds or replaces `key` as the newest entry, forgetting the oldest when over capacity. */
  set(key: string, value: V): void {
    const map = this.map;
    map.delete(key);
    map.set(key, value);
    this.newest = key;
    if (map.size > this.capacity) {
      const oldest = map.keys().next().value as string;
      map.delete(oldest);
    }
  }

  delete(key: string): boolean {
    if (this.newest === key) this.newest = undefined;
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.newest = undefined;
  }
}
