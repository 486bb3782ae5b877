/**
 * Small fixed-size distinct counters: how many different endpoints (or user agents) one client
 * used lately, in a few machine words whatever the client sends. An attacker choosing a fresh
 * path per request grows nothing: each value only sets one bit.
 *
 * Linear counting (Whang, Vander-Zanden and Taylor, 1990): hash each value to one of m bits;
 * with Z bits still zero, the number of distinct values is about −m·ln(Z/m). With m = 64 the
 * estimate is within a few percent up to ~100 distinct values and saturates near 270, far
 * beyond the 10-versus-50 the scanning signal needs to tell apart.
 */

/** 32-bit FNV-1a of a string's UTF-16 code units: cheap, well mixed, no allocation. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // FNV's low bits mix poorly for short inputs: a final avalanche (murmur3's fmix32).
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Set bits in a 32-bit word. */
export function popcount32(word: number): number {
  let v = word - ((word >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/**
 * Distinct values estimated from `ones` set bits out of `m` (linear counting). A full bitmap
 * answers the largest estimate one zero bit would give: "at least this many".
 */
export function linearCount(ones: number, m: number): number {
  if (ones <= 0) return 0;
  // With few bits set, collisions are rare and the estimate is within a fraction of `ones`:
  // skip the logarithm (every signal using these counts starts well above 4).
  if (ones <= 4) return ones;
  const zeros = m - ones;
  return -m * Math.log((zeros > 0 ? zeros : 0.5) / m);
}
