import { describe, expect, it } from "vitest";
import { memoryLists } from "./memory-list-store.js";

describe("memoryLists", () => {
  it("shares one namespace between handles, keeps namespaces apart, and expires lazily", async () => {
    const lists = memoryLists();
    const a = lists("app");
    const changes: number[] = [];
    const stop = a.subscribe!(() => changes.push(1));
    await lists("app").add({ list: "deny", value: "10.0.0.0/8", expiresAt: 2000 }, 1000);
    await lists("app").add({ list: "allow", value: "user:1" }, 1000);
    expect((await a.entries(1500)).map((e) => e.value)).toEqual(["10.0.0.0/8", "user:1"]);
    expect(await lists("other").entries(1500)).toEqual([]);
    expect((await a.entries(2000)).map((e) => e.value)).toEqual(["user:1"]);
    expect(await a.remove("allow", "user:1")).toBe(true);
    expect(await a.remove("allow", "user:1")).toBe(false);
    expect(changes).toHaveLength(3);
    stop();
    await a.add({ list: "deny", value: "x", reason: "r" }, 3000);
    expect(changes).toHaveLength(3);
    expect(await a.entries(3000)).toEqual([
      { list: "deny", value: "x", addedAt: 3000, expiresAt: undefined, reason: "r" },
    ]);
  });
});
