/**
 * A memo for values the hot path would otherwise rebuild per request (header values, store
 * keys). Its keys may come from clients, so it is bounded: when it holds `limit` entries it
 * forgets them all at once, which costs nothing per hit (unlike an LRU's bookkeeping) and only
 * an occasional rebuild when more distinct keys are live than it holds.
 */
export class BoundedMemo<K, V> extends Map<K, V> {
  constructor(private readonly limit: number) {
    super();
  }

  /** Stores `value` under `key` (first starting over if full) and returns it. */
  remember(key: K, value: V): V {
    if (this.size >= this.limit) this.clear();
    this.set(key, value);
    return value;
  }
}
