/**
 * throttlekit/config: configuration files (YAML or JSON; throttlekit's schema or a
 * ratethrottle.yaml as it is) turned into the options every HTTP adapter takes, with every
 * problem located at its `file:line:column`, `${ENV}` interpolation, and hot reload
 * (docs/config.md).
 */
export { loadConfig } from "./load-config.js";
export { detectSchema, formatOf, parseConfig } from "./parse-config.js";
export { STRATEGIES } from "./ratethrottle-schema.js";
export { REDACTED, redactConfig } from "./redact.js";
export type {
  ConfigFormat,
  ConfigSchema,
  ConfigWatcher,
  LoadConfigOptions,
  LoadedConfig,
  ParseConfigOptions,
  StoreSpec,
  WatchConfigOptions,
} from "./types.js";
export { watchConfig } from "./watch-config.js";

/** The two schemas a file may be written in. */
export const CONFIG_SCHEMAS = Object.freeze(["throttlekit", "ratethrottle"] as const);
