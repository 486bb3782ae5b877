import { BoundedMemo } from "../bounded-memo.js";

/** Values up to this length are remembered; longer ones are prefixed afresh each time. */
const MEMO_VALUE_LENGTH = 64;
/** Entries one key maker remembers before it starts over (at most ~2 MB). */
const MEMO_SIZE = 8192;

/**
 * Makes store keys in one namespace (`apikey:` + the header, `user:` + the user id), so that
 * values from different identities never share a counter.
 *
 * Each key is remembered by its value. A key built by concatenation is a rope of two strings,
 * and the memory store's Map must first flatten it into one and hash it: a call into the
 * runtime on every request (measured on a Fastify server: ~0.5 µs a request more than a key it
 * has seen). A client sends the same value request after request, so its key is built once and
 * then found by the value, with its hash already computed. Bounded against clients that send a
 * new value every time: short values only, and the map starts over when full.
 */
export function namespacedKey(namespace: string): (value: string) => string {
  const memo = new BoundedMemo<string, string>(MEMO_SIZE);
  return (value) => {
    if (value.length > MEMO_VALUE_LENGTH) return namespace + value;
    return memo.get(value) ?? memo.remember(value, namespace + value);
  };
}
