import { createHash } from "node:crypto";
import { LUA_BATCH_STATE } from "./lua/batch-state.js";
import { LUA_COMMON } from "./lua/common.js";
import { LUA_DECIDE } from "./lua/decide.js";
import { LUA_FIXED_WINDOW } from "./lua/fixed-window.js";
import { LUA_GCRA } from "./lua/gcra.js";
import { LUA_HEADER } from "./lua/header.js";
import { LUA_LEAKY_BUCKET } from "./lua/leaky-bucket.js";
import { LUA_RECORD } from "./lua/record.js";
import { LUA_SLIDING_LOG } from "./lua/sliding-log.js";
import { LUA_SLIDING_WINDOW } from "./lua/sliding-window.js";
import { LUA_TOKEN_BUCKET } from "./lua/token-bucket.js";

/**
 * The one script every decision runs: the algorithm twins, then the driver. Kept as TypeScript
 * strings next to this file (not .lua files read at run time) so the bundle needs no asset
 * copying and works from ESM, CJS and any bundler alike.
 */
export const SCRIPT_SOURCE = [
  LUA_COMMON,
  LUA_FIXED_WINDOW,
  LUA_SLIDING_WINDOW,
  LUA_SLIDING_LOG,
  LUA_TOKEN_BUCKET,
  LUA_GCRA,
  LUA_LEAKY_BUCKET,
  LUA_HEADER,
  LUA_BATCH_STATE,
  LUA_RECORD,
  LUA_DECIDE,
].join("\n");

/** The SHA1 Redis files the script under, for EVALSHA. */
export const SCRIPT_SHA = createHash("sha1").update(SCRIPT_SOURCE).digest("hex");
