import type { HttpLimiterOptions, Identity } from "../http/index.js";
import type { ConfigProblem, Duration, EventHub, Logger, PolicyOptions, Store } from "../index.js";

/** The two file schemas: throttlekit's own (the API's names) and a ratethrottle.yaml as it is. */
export type ConfigSchema = "throttlekit" | "ratethrottle";

/** The file formats; YAML is read by the `yaml` package, JSON through it too (for positions). */
export type ConfigFormat = "yaml" | "json";

/**
 * Where counters live, as a file describes it. loadConfig builds the store from it; a running
 * watcher refuses to change it (a new store is a restart).
 */
export type StoreSpec =
  | {
      readonly type: "memory";
      /** The memory store's `maxKeys`. @default 1_000_000 */
      readonly maxKeys?: number;
    }
  | {
      readonly type: "redis";
      /** `redis://[user:password@]host:port[/db]` (or `rediss://`). */
      readonly url: string;
      /** Node URLs of a Redis Cluster; `url` is then the first of them. @default undefined */
      readonly cluster?: readonly string[];
      /** The store's per-call `timeout`. @default 500 */
      readonly timeout?: Duration;
      /** The client's connect timeout (ioredis `connectTimeout`). @default ioredis's (10 s) */
      readonly connectTimeout?: Duration;
      /** What a decision is while Redis cannot answer. @default "fallback" */
      readonly onStoreError?: "fail-closed" | "fail-open" | "fallback";
    };

/** A configuration read from a file (or text), validated, ready for any HTTP adapter. */
export type LoadedConfig = {
  /** The file it came from (undefined for parseConfig without `file`). */
  readonly file: string | undefined;
  readonly schema: ConfigSchema;
  readonly store: StoreSpec;
  /**
   * Options any HTTP adapter takes (`expressRateLimit(config.http)`, `fastifyRateLimit`...);
   * `store` is set once loadConfig built it (parseConfig: only when given `options.store`).
   */
  readonly http: HttpLimiterOptions;
  /**
   * Every named rule's policy, by name, as ratethrottle's code checks a rule by name
   * (`check_rate_limit(identifier, "auth_strict")`): `createLimiter({ policies:
   * config.limits.auth_strict, store: config.http.store })`. A ratethrottle rule without
   * `paths` applies over HTTP only if it is the first such rule (the catch-all); the others are
   * here, and in `notes`. Empty for throttlekit's schema.
   */
  readonly limits: Readonly<Record<string, PolicyOptions>>;
  /** The document as parsed (after `${ENV}` interpolation), for `throttlekit config show`; redact before printing. */
  readonly source: unknown;
  /**
   * Keys accepted but without effect in throttlekit (ratethrottle's connection-pool and
   * logging settings), each with its position and why: shown by `config validate`, never
   * silently dropped.
   */
  readonly notes: readonly ConfigProblem[];
  /** Closes what loadConfig created (the Redis client); a no-op otherwise. */
  close(): Promise<void>;
};

/** Options of parseConfig. */
export type ParseConfigOptions = {
  /** Shown in problems (`file:line:column path`); also picks the format by its extension. */
  file?: string;
  /** @default by the extension of `file` (.json → "json"), else "yaml" */
  format?: ConfigFormat;
  /** @default by the document's keys (ratethrottle's `storage`, `global`, `ddos_protection`...) */
  schema?: ConfigSchema;
  /** Variables for `${NAME}` and `${NAME:-default}`. @default process.env */
  env?: Record<string, string | undefined>;
  /** The store to put in `http.store` (the file's `store` still has to be valid). */
  store?: Store;
  /**
   * Identities a file names but cannot build (a session, your own function): `identity: user`
   * in throttlekit's schema, `scope: user` in a ratethrottle.yaml (`identities.user`).
   * @default {}
   */
  identities?: Readonly<Record<string, Identity>>;
};

/** Options of loadConfig. */
export type LoadConfigOptions = Omit<ParseConfigOptions, "file">;

/** Options of watchConfig. */
export type WatchConfigOptions = Omit<ParseConfigOptions, "file"> & {
  /** Where a refused edit is logged, once per edit. `false` silences it. @default console */
  logger?: Logger | false;
  /** Where reload events go, when the hub knows them. @default none */
  events?: EventHub;
  /** Quiet time after the last change before the file is read (editors write in steps). @default "100ms" */
  debounce?: Duration;
  /** Receives each refused edit's ConfigError (also logged). */
  onError?: (error: import("../index.js").ConfigError) => void;
};

/** What watchConfig returns. */
export type ConfigWatcher = {
  /** Stops watching, and closes the store the watcher built (none when given `store`). */
  close(): Promise<void>;
};
