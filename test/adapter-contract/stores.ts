import { memoryStore } from "../../src/core/memory-store.js";
import type { Store } from "../../src/core/store.js";
import type { StoreFactory } from "./contract.js";

/** The memory store (its allow and deny lists included). */
export const memory: StoreFactory = {
  name: "memory",
  create(): Store {
    return memoryStore();
  },
};
