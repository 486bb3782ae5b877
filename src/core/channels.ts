/**
 * Publishing events on `node:diagnostics_channel` (`throttlekit:decision`, `throttlekit:limited`,
 * ...), so APM agents and tools see every limiter without being wired to one (issue 17, item 1).
 *
 * The core stays runtime-neutral: it imports nothing. Where the host offers
 * `process.getBuiltinModule` (Node ≥ 20.16, Bun, Deno) the channels are looked up through it;
 * elsewhere (edge runtimes, browsers) there are none and publishing costs one undefined check.
 */

export type Channel = { readonly hasSubscribers: boolean; publish(message: unknown): void };
type DiagnosticsChannel = { channel(name: string): Channel };

let channels: Map<string, Channel> | null | undefined;

function lookup(): Map<string, Channel> | null {
  const host = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  let dc: DiagnosticsChannel | undefined;
  try {
    dc = host?.getBuiltinModule?.("node:diagnostics_channel") as DiagnosticsChannel | undefined;
  } catch {
    dc = undefined;
  }
  if (dc === undefined || typeof dc.channel !== "function") return null;
  const map = new Map<string, Channel>();
  for (const name of [
    "decision",
    "limited",
    "blocked",
    "denied",
    "violation",
    "degraded",
    "recovered",
    "autoBlock",
  ]) {
    // Held here, strongly: Node keeps channels only while someone references them.
    map.set(name, dc.channel(`throttlekit:${name}`));
  }
  return map;
}

function all(): Map<string, Channel> | null {
  if (channels === undefined) channels = lookup();
  return channels;
}

/**
 * The channel `throttlekit:<type>` itself, held (undefined where the host has none), so a hot
 * path can ask its `hasSubscribers` without a lookup per call (events.ts does, per decision).
 */
export function channelOf(type: string): Channel | undefined {
  return all()?.get(type);
}

/** True when a diagnostics channel of one of `types` has a subscriber. */
export function subscribedChannel(types: readonly string[]): boolean {
  const map = all();
  if (map === null) return false;
  for (const t of types) if (map.get(t)?.hasSubscribers === true) return true;
  return false;
}

/** Publishes `message` on `throttlekit:<type>` when that channel has a subscriber. */
export function publishChannel(type: string, message: unknown): void {
  const map = all();
  if (map === null) return;
  const ch = map.get(type);
  if (ch?.hasSubscribers) ch.publish(message);
}
