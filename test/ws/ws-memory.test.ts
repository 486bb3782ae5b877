import { memoryStore } from "../../src/core/memory-store.js";
import { wsSuite } from "./suite.js";

wsSuite("the memory store", () => memoryStore());
