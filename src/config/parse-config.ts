import { createHttpLimiter, type HttpLimiterOptions } from "../http/index.js";
import { ConfigError, memoryStore } from "../index.js";
import { readDocument } from "./document.js";
import { isRecord, Located } from "./located.js";
import { fromRatethrottle, RATETHROTTLE_KEYS } from "./ratethrottle-schema.js";
import { fromThrottlekit, THROTTLEKIT_KEYS } from "./throttlekit-schema.js";
import { sourcePath, type Translation } from "./translation.js";
import type { ConfigFormat, ConfigSchema, LoadedConfig, ParseConfigOptions } from "./types.js";

const SCHEMAS: readonly ConfigSchema[] = ["throttlekit", "ratethrottle"];
/** Keys only a ratethrottle.yaml has (both schemas have `rules`). */
const RATETHROTTLE_ONLY = RATETHROTTLE_KEYS.filter((k) => k !== "rules");
const THROTTLEKIT_ONLY = THROTTLEKIT_KEYS.filter((k) => k !== "rules");
/** Rule keys only ratethrottle's rules have. */
const RATETHROTTLE_RULE_KEYS = [
  "limit",
  "window",
  "strategy",
  "scope",
  "block_duration",
  "burst",
  "paths",
];

/** The format a file's extension names: .json is JSON, anything else YAML. */
export function formatOf(file: string | undefined): ConfigFormat {
  return file !== undefined && /\.json$/i.test(file) ? "json" : "yaml";
}

/**
 * Parses and validates a configuration (YAML or JSON text, either schema) into options any HTTP
 * adapter takes. Synchronous; every problem, with its `file:line:column`, is thrown at once as
 * one ConfigError.
 *
 * @example
 * const config = parseConfig(readFileSync("throttlekit.yaml", "utf8"), { file: "throttlekit.yaml" });
 * app.use(expressRateLimit(config.http));
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): LoadedConfig {
  const problems = new Located(options.file ?? "<config>");
  if (typeof text !== "string") {
    throw new ConfigError([{ option: "text", received: text, expected: "the file's text" }]);
  }
  if (options.format !== undefined && options.format !== "yaml" && options.format !== "json") {
    problems.add("", options.format, 'format "yaml" or "json"');
  }
  if (options.schema !== undefined && !SCHEMAS.includes(options.schema)) {
    problems.add("", options.schema, 'schema "throttlekit" or "ratethrottle"');
  }
  if (problems.items.length > 0) throw new ConfigError(problems.items);
  const format = options.format ?? formatOf(options.file);
  const env = options.env ?? process.env;
  const doc = readDocument(text, format, env, problems);
  if (doc === undefined) throw new ConfigError(problems.items);
  problems.doc = doc;
  // An empty file is an empty configuration: nothing is limited (as with no options at all).
  const root = doc.value ?? {};
  if (!isRecord(root)) {
    problems.add("", root, "a map of options at the top level");
    throw new ConfigError(problems.items);
  }
  const schema = options.schema ?? detectSchema(root);
  const translation =
    schema === "ratethrottle"
      ? fromRatethrottle(root, problems, options)
      : fromThrottlekit(root, problems, options);
  checkWithLimiter(translation, problems);
  // In file order, as a compiler lists them.
  if (problems.items.length > 0) throw new ConfigError(problems.items.sort(byPosition));
  const http: HttpLimiterOptions =
    options.store === undefined
      ? translation.options
      : { ...translation.options, store: options.store };
  return Object.freeze({
    file: options.file,
    schema,
    store: translation.store,
    http,
    limits: Object.freeze({ ...(translation.limits ?? {}) }),
    source: doc.value,
    notes: problems.notes,
    close: async () => {},
  });
}

function byPosition(a: { option: string }, b: { option: string }): number {
  const pos = (o: string) => /:(\d+):(\d+)/.exec(o)?.slice(1).map(Number) ?? [0, 0];
  const [la, ca] = pos(a.option);
  const [lb, cb] = pos(b.option);
  return la! - lb! || ca! - cb!;
}

/**
 * Which schema a document is written in: ratethrottle's sections (`storage`, `global`,
 * `ddos_protection`...) or rules in its form (`window` in seconds, `strategy`) say ratethrottle.
 */
export function detectSchema(root: Record<string, unknown>): ConfigSchema {
  const keys = Object.keys(root);
  if (keys.some((k) => (RATETHROTTLE_ONLY as readonly string[]).includes(k))) return "ratethrottle";
  if (keys.some((k) => (THROTTLEKIT_ONLY as readonly string[]).includes(k))) return "throttlekit";
  const rules = Array.isArray(root.rules) ? root.rules : [];
  const ratethrottle = rules.some((r) => isRecord(r) && RATETHROTTLE_RULE_KEYS.some((k) => k in r));
  return ratethrottle ? "ratethrottle" : "throttlekit";
}

/**
 * Runs createHttpLimiter's own validation on the options (with a throwaway memory store), so a
 * loaded config is exactly one every adapter accepts; its problems are located in the file.
 */
function checkWithLimiter(t: Translation, problems: Located): void {
  try {
    const limiter = createHttpLimiter({
      ...t.options,
      store: memoryStore({ logger: false }),
      logger: false,
    });
    void limiter.close();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const before = problems.items.length;
    for (const p of error.problems) {
      // "Nothing to limit" after rules were refused above repeats those problems.
      const option = p.option.replace(/^options\./, "");
      if (before > 0 && option === "policies" && p.received === undefined) continue;
      const path = sourcePath(option, t);
      // A value already refused above (an unset ${VAR}) is not reported twice.
      const name = problems.name(path);
      if (problems.items.some((q) => q.option === name)) continue;
      problems.add(path, p.received, p.expected);
    }
  }
}
