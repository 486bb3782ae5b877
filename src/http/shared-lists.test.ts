import { describe, expect, it } from "vitest";
import type { ListStore } from "../core/list-store.js";
import { memoryLists } from "../core/memory-list-store.js";
import { memoryStore } from "../core/memory-store.js";
import type { Store } from "../core/store.js";
import { createHttpLimiter } from "./http-limiter.js";
import type { HttpOutcome } from "./options.js";
import type { HttpRequest } from "./request.js";

const req: HttpRequest = {
  method: "GET",
  path: "/",
  remoteAddress: "192.0.2.1",
  raw: undefined,
  header: () => undefined,
};

async function status(limiter: { handle(r: HttpRequest): unknown }): Promise<number> {
  const o = (await limiter.handle(req)) as HttpOutcome;
  return o.action === "continue" ? 200 : o.status;
}

/** A store whose lists cannot signal changes (as Redis): a limiter of its own would poll. */
function pollingStore(): Store & { loads(): number } {
  const base = memoryStore();
  const inner = memoryLists()("p");
  let loads = 0;
  // No subscribe: changes are never signalled.
  const lists: ListStore = {
    add: (...args) => inner.add(...args),
    remove: (...args) => inner.remove(...args),
    entries: (...args) => {
      loads++;
      return inner.entries(...args);
    },
  };
  return Object.assign(Object.create(base) as Store, { lists: () => lists, loads: () => loads });
}

describe("the lists option: limiters sharing another limiter's lists", () => {
  it("a deny through one applies to the other at once, with no load of its own", async () => {
    const store = pollingStore();
    const owner = createHttpLimiter({ policies: "100/min", store, deny: ["198.51.100.7"] });
    const borrower = createHttpLimiter({ policies: "100/min", store, lists: owner.lists });
    expect(borrower.lists).toBe(owner.lists);
    expect(await status(borrower)).toBe(200);
    const loads = store.loads();
    await owner.lists.deny("192.0.2.1", { for: "1h" });
    // The store cannot signal, yet the borrower sees it on its next request: one snapshot.
    expect(await status(borrower)).toBe(403);
    expect(store.loads()).toBe(loads + 1);
    await borrower.close();
    // The borrower never closes the owner's lists: they still answer.
    expect(await status(owner)).toBe(403);
    await owner.close();
  });

  it("refuses what is not another limiter's lists, and static entries beside it", () => {
    const owner = createHttpLimiter({ policies: "1/s" });
    expect(() =>
      createHttpLimiter({ policies: "1/s", lists: {} as never, allow: ["x"], listsRefresh: "1s" }),
    ).toThrow(/lists.*another limiter's `lists`[\s\S]*allow.*none with `lists`[\s\S]*listsRefresh/);
    expect(() => createHttpLimiter({ policies: "1/s", lists: owner.lists, deny: ["y"] })).toThrow(
      /deny.*none with `lists`/,
    );
    void owner.close();
  });

  it("a reload keeps the borrowed lists and may not change them", () => {
    const owner = createHttpLimiter({ policies: "1/s" });
    const other = createHttpLimiter({ policies: "1/s" });
    const borrower = createHttpLimiter({ policies: "1/s", lists: owner.lists, logger: false });
    borrower.reload({ policies: "2/s" });
    expect(borrower.lists).toBe(owner.lists);
    expect(() => borrower.reload({ policies: "2/s", lists: other.lists })).toThrow(/lists/);
    for (const l of [owner, other, borrower]) void l.close();
  });
});
