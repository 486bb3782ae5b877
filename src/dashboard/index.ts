/**
 * throttlekit/dashboard: a request handler serving the live dashboard (fleet metrics, lists,
 * the running config). (issue 18; being built: see docs/dashboard.md)
 */
export const DASHBOARD_PATH = "/";
