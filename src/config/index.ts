/**
 * throttlekit/config: configuration files (YAML or JSON; throttlekit's schema or a
 * ratethrottle.yaml as it is) turned into the options adapters take, and watched for hot reload.
 * (issue 18; being built: see docs/config.md)
 */
export const CONFIG_SCHEMAS = Object.freeze(["throttlekit", "ratethrottle"] as const);
