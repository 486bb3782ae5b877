import { describe, it } from "vitest";
import { storeConformance } from "../testing/store-conformance.js";
import { memoryStore } from "./memory-store.js";

const store = memoryStore();
storeConformance({ name: "memory", describe, it, store: () => store });
