import { describe, expect, it } from "vitest";
import { createLimiter } from "../src/core/limiter.js";
import { MAX_LIMIT, parsePolicies } from "../src/core/policy.js";
import { headerRenderer } from "../src/http/headers.js";

/** RFC 9651 §3.3.1: an sf-integer has at most 15 digits. */
const SF_INTEGER = /^-?\d{1,15}$/;

describe("q= stays an RFC 9651 integer because limits are bounded at parse time (issue 13 item 10)", () => {
  it("renders the largest accepted limit and burst as 15-digit integers", () => {
    expect(MAX_LIMIT).toBe(999_999_999_999_999);
    const inputs = [
      { limit: MAX_LIMIT, window: 1, name: "huge" },
      { limit: 1, window: 1, algorithm: "gcra" as const, burst: MAX_LIMIT, name: "bucket" },
    ];
    const render = headerRenderer("draft-10", parsePolicies(inputs), () => 0)!;
    const limiter = createLimiter({ policies: inputs });
    const headers = render(limiter.consumeSync("k"));
    const q = [...headers["RateLimit-Policy"]!.matchAll(/;q=([^;,]+)/g)].map((m) => m[1]!);
    expect(q).toEqual([String(MAX_LIMIT), "1"]);
    for (const v of q) expect(v).toMatch(SF_INTEGER);
    const r = [...headers.RateLimit!.matchAll(/;r=([^;,]+)/g)].map((m) => m[1]!);
    for (const v of r) expect(v).toMatch(SF_INTEGER);
  });

  it("refuses a 16-digit limit rather than render q= outside the integer range", () => {
    expect(() => parsePolicies({ limit: MAX_LIMIT + 1, window: 1 })).toThrow(/limit/);
    expect(() => parsePolicies(`${MAX_LIMIT + 1}/ms`)).toThrow(/decimal digits, from 1 to/);
  });
});
