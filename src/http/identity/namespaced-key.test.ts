import { describe, expect, it } from "vitest";
import { namespacedKey } from "./namespaced-key.js";

describe("namespacedKey", () => {
  it("prefixes every value, remembered or not, past the memo's bound and its length limit", () => {
    const keyOf = namespacedKey("apikey:");
    const values = [
      ...Array.from({ length: 20_000 }, (_, i) => `k${i % 9000}`),
      "x".repeat(64),
      "y".repeat(65),
      "",
    ];
    for (const v of [...values, ...values.slice(0, 100)]) expect(keyOf(v)).toBe(`apikey:${v}`);
  });

  it("keeps namespaces apart: a value that looks like another namespace's key is still its own", () => {
    const apiKey = namespacedKey("apikey:");
    const user = namespacedKey("user:");
    expect(apiKey("user:42")).toBe("apikey:user:42");
    expect(apiKey("user:42")).not.toBe(user("42"));
  });
});
