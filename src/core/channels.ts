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

let dc: DiagnosticsChannel | null | undefined;
// Held here, strongly: Node keeps channels only while someone references them.
const held = new Map<string, Channel>();

function lookup(): DiagnosticsChannel | null {
  const host = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  let found: DiagnosticsChannel | undefined;
  try {
    found = host?.getBuiltinModule?.("node:diagnostics_channel") as DiagnosticsChannel | undefined;
  } catch {
    found = undefined;
  }
  return found !== undefined && typeof found.channel === "function" ? found : null;
}

/**
 * The channel `throttlekit:<type>` itself, held (undefined where the host has none), so a hot
 * path can ask its `hasSubscribers` without a lookup per call (events.ts does, per decision).
 */
export function channelOf(type: string): Channel | undefined {
  if (dc === undefined) dc = lookup();
  if (dc === null) return undefined;
  let ch = held.get(type);
  if (ch === undefined) {
    ch = dc.channel(`throttlekit:${type}`);
    held.set(type, ch);
  }
  return ch;
}
