import { StoreError } from "../../core/errors/store-error.js";
import type { Commands } from "./client.js";

/**
 * One command of a side structure beside the limiter's records (the deny/allow lists, the fleet
 * metrics), bounded by `timeoutMs` so a stalled Redis never holds a request or a reader: a
 * StoreError named after `what` when it fails or takes longer.
 */
export function sendWithin(
  commands: Commands,
  key: string,
  args: string[],
  timeoutMs: number,
  what: string,
): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new StoreError(`${what}: ${args[0]} timed out after ${timeoutMs} ms`, { timeout: true }),
        ),
      timeoutMs,
    );
  });
  const call = commands.send(key, args).catch((cause: unknown) => {
    throw new StoreError(`${what}: ${args[0]} failed`, { cause });
  });
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}

/** HGETALL answers a flat array (RESP2) or a map/object (RESP3, node-redis): accept both. */
export function hashPairs(reply: unknown): [string, string][] {
  const out: [string, string][] = [];
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) {
      out.push([String(reply[i]), String(reply[i + 1])]);
    }
  } else if (reply instanceof Map) {
    for (const [k, v] of reply) out.push([String(k), String(v)]);
  } else if (typeof reply === "object" && reply !== null) {
    for (const [k, v] of Object.entries(reply)) out.push([k, String(v)]);
  }
  return out;
}
