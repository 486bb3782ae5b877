import type { HttpLimiterOptions } from "../http/index.js";
import type { PolicyOptions } from "../index.js";
import type { StoreSpec } from "./types.js";

/**
 * A file turned into HTTP limiter options, and where each option came from, so the limiter's
 * own validation problems (named by option: `policies[1].limit`) point at the file's lines.
 */
export type Translation = {
  readonly options: HttpLimiterOptions;
  readonly store: StoreSpec;
  /** Option path → the source path it came from; paths not listed map to themselves when `same`. */
  readonly origin: ReadonlyMap<string, string>;
  /** Whether option paths name the file's paths unless `origin` says otherwise (throttlekit's schema). */
  readonly same: boolean;
  /** Named rules' policies (LoadedConfig.limits). */
  readonly limits?: Readonly<Record<string, PolicyOptions>>;
};

const SEGMENT = /\[\d+\]|[^.[\]]+/g;

/** The source path of an option path: the longest listed prefix, the rest appended. */
export function sourcePath(option: string, t: Translation): string {
  const segments = option.match(SEGMENT) ?? [];
  for (let k = segments.length; k > 0; k--) {
    const prefix = joinSegments(segments.slice(0, k));
    const mapped = t.origin.get(prefix);
    if (mapped !== undefined) return mapped + option.slice(prefix.length);
  }
  return t.same ? option : "";
}

function joinSegments(segments: readonly string[]): string {
  let out = "";
  for (const s of segments) out += s.startsWith("[") || out === "" ? s : `.${s}`;
  return out;
}
