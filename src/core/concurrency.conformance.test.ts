import { describe, it } from "vitest";
import { concurrencyConformance } from "../testing/concurrency-conformance.js";
import { memoryStore } from "./memory-store.js";

const store = memoryStore();
concurrencyConformance({ name: "memory", describe, it, store: () => store });
