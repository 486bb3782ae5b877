/**
 * The demo's rules: first match wins. Edit and restart `npm run demo` to try your own.
 */
import type { HttpRule } from "throttlekit/http";
import { UNLIMITED } from "throttlekit/http";

export const rules: HttpRule[] = [
  // Health checks are never limited.
  { path: "/health", exempt: true },
  // Logins: 5 a minute per client; a client over it is locked out for a minute.
  { path: "/login", methods: ["POST"], policies: "5/min", blockFor: "1m" },
  // Every /api route shares one pool per client ("zone"), with bigger limits for API keys.
  {
    path: "/api/**",
    zone: "api",
    policies: { default: ["20/10s", "200/h"], groups: { admin: UNLIMITED } },
  },
];

/** Everything else. */
export const policies = [
  { name: "burst", limit: 10, window: "10s" },
  { name: "hourly", limit: 100, window: "1h", algorithm: "gcra" as const },
];
