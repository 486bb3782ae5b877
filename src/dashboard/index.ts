/**
 * throttlekit/dashboard: one self-contained page (live fleet rates per rule, top offenders,
 * recent violations, store outages, allow/deny list management, the running config) served by
 * a request handler you mount in node:http, Express or Fastify. See docs/dashboard.md.
 */
import { createHandler } from "./handler.js";
import { type DashboardHandler, type DashboardOptions, resolveOptions } from "./options.js";

export type { RecentViolation } from "./local-events.js";
export type { DashboardHandler, DashboardOptions } from "./options.js";
export { isSecretKey, REDACTED, redactConfig } from "./redact.js";
export type { LiveSnapshot, Series } from "./snapshot.js";

/**
 * A request handler serving the dashboard under `basePath`: the page, its live stream
 * (server-sent events every `interval`) and its API. Access needs `token` (Bearer, or a session
 * cookie obtained with it); list changes from the page also need its CSRF token. Requests
 * outside `basePath` go to `next()` (Express) or get 404. Invalid options throw one ConfigError.
 *
 * @example
 * import { createServer } from "node:http";
 * import { memoryStore } from "throttlekit";
 * import { dashboard } from "throttlekit/dashboard";
 *
 * const store = memoryStore();
 * const ui = dashboard({ store, token: process.env.DASHBOARD_TOKEN!, basePath: "/admin/throttlekit" });
 * createServer((req, res) => ui(req, res)).listen(8080);
 */
export function dashboard(options: DashboardOptions): DashboardHandler {
  return createHandler(resolveOptions(options));
}
