/**
 * reload() keeps counters by rule name and policy on every store: Redis keys are the memory
 * store's namespaces, so the same edits keep (or reset) the same counts.
 */
import { describe, expect, it } from "vitest";
import { createHttpLimiter } from "../../src/http/http-limiter.js";
import type { HttpRequest } from "../../src/http/request.js";
import type { HttpRule } from "../../src/http/rules.js";
import { storeFactories } from "../adapter-contract/stores.js";

const req = (path: string): HttpRequest => ({
  method: "GET",
  path,
  remoteAddress: "192.0.2.1",
  raw: undefined,
  header: () => undefined,
});

describe.each(storeFactories)("reload counters ($name store)", (factory) => {
  it("keeps counts through a reorder, resets them for a changed policy or a new name", async () => {
    const store = await factory.create();
    const prefix = `rc-${factory.name}-${Date.now()}`;
    const a: HttpRule = { path: "/a", policies: "10/h" }; // unnamed: named by its content
    const b: HttpRule = { name: "b", path: "/b", policies: "10/h" };
    const c: HttpRule = { name: "c", path: "/c", policies: "10/h" };
    const limiter = createHttpLimiter({ store, prefix, logger: false, rules: [a, b, c] });
    const left = async (path: string) => (await limiter.handle(req(path))).decision?.remaining;
    for (const p of ["/a", "/a", "/b", "/b", "/c", "/c"]) await limiter.handle(req(p));
    limiter.reload({ prefix, rules: [c, { ...b, policies: "20/h" }, { ...a }] });
    expect(await left("/a")).toBe(7);
    expect(await left("/b")).toBe(19);
    expect(await left("/c")).toBe(7);
    limiter.reload({ prefix, rules: [{ ...c, name: "c2" }, b, a] });
    expect(await left("/c")).toBe(9);
    expect(await left("/b")).toBe(7);
    await limiter.close();
    await store.close?.();
  });
});
