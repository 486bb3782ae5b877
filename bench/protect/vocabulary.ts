/**
 * What the synthetic clients ask for and say they are: user agents, site pages and assets, API
 * endpoints, and the paths scanners probe. Fixed lists, so the trace depends on the seed only.
 */

const BROWSERS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
];

/** Browser user agents: the families above in a few versions each (~48 strings). */
export const BROWSER_AGENTS: readonly string[] = BROWSERS.flatMap((ua) =>
  [0, 1, 2, 3, 4, 5, 6, 7].map((v) =>
    ua.replace(/(\d+)\.0/, (_, major) => `${Number(major) - v}.0`),
  ),
);

/** Agents of API clients and scripts. */
export const API_AGENTS: readonly string[] = [
  "python-requests/2.31.0",
  "Go-http-client/1.1",
  "okhttp/4.12.0",
  "axios/1.6.2",
  "node-fetch/1.0",
  "curl/8.4.0",
  "Java/17.0.9",
  "Apache-HttpClient/4.5.14 (Java/17.0.9)",
  "MyCompanyBilling/3.2 (+https://billing.example)",
  "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
];

/** What scanners and flood tools call themselves, when they say anything. */
export const TOOL_AGENTS: readonly string[] = [
  "Mozilla/5.0 zgrab/0.x",
  "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
  "sqlmap/1.7.11#stable (https://sqlmap.org)",
  "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:Prog)",
  "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
  "python-requests/2.28.1",
  "Go-http-client/1.1",
  "curl/7.68.0",
];

/** Site pages, most popular first. */
export const PAGES: readonly string[] = [
  "/",
  "/products",
  "/search",
  "/cart",
  "/about",
  "/blog",
  "/contact",
  "/pricing",
  ...Array.from({ length: 392 }, (_, i) =>
    i % 3 === 0 ? `/products/${1000 + i}` : i % 3 === 1 ? `/blog/post-${i}` : `/category/${i}`,
  ),
];

/** Static assets of the site's pages. */
export const ASSETS: readonly string[] = [
  ...Array.from({ length: 12 }, (_, i) => `/static/js/chunk-${i}.js`),
  ...Array.from({ length: 6 }, (_, i) => `/static/css/style-${i}.css`),
  ...Array.from({ length: 30 }, (_, i) => `/static/img/ui-${i}.svg`),
  ...Array.from({ length: 8 }, (_, i) => `/static/fonts/font-${i}.woff2`),
];

/** API endpoints (with the ids a client works through). */
export const API_ENDPOINTS: readonly string[] = [
  "/api/v1/orders",
  "/api/v1/orders/search",
  "/api/v1/customers",
  "/api/v1/invoices",
  "/api/v1/products",
  "/api/v1/inventory",
  "/api/v1/shipments",
  "/api/v1/events",
  "/api/v1/webhooks",
  "/api/v1/reports/daily",
  "/api/v1/me",
  "/api/v1/prices",
];

const PROBE_ROOTS = [
  "/.env",
  "/.git/config",
  "/wp-admin/",
  "/wp-login.php",
  "/xmlrpc.php",
  "/phpmyadmin/",
  "/admin/",
  "/administrator/",
  "/server-status",
  "/.aws/credentials",
  "/config.json",
  "/backup.sql",
  "/db.sql",
  "/.DS_Store",
  "/actuator/env",
  "/console/",
  "/cgi-bin/test.cgi",
  "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
  "/.well-known/security.txt",
  "/api/swagger.json",
];

const PROBE_DIRS = [
  "",
  "/old",
  "/new",
  "/backup",
  "/test",
  "/dev",
  "/staging",
  "/v1",
  "/v2",
  "/app",
];
const PROBE_FILES = [".bak", ".old", "~", ".zip", ".tar.gz", ".swp", ".save", ".orig"];

/** The n-th path of a scanner's wordlist (each distinct; starts with the famous ones). */
export function probePath(n: number): string {
  const root = PROBE_ROOTS[n % PROBE_ROOTS.length] as string;
  const round = Math.floor(n / PROBE_ROOTS.length);
  if (round === 0) return root;
  const dir = PROBE_DIRS[round % PROBE_DIRS.length] as string;
  const suffix = PROBE_FILES[Math.floor(round / PROBE_DIRS.length) % PROBE_FILES.length] as string;
  const extra = Math.floor(round / (PROBE_DIRS.length * PROBE_FILES.length));
  return `${dir}${root}${extra > 0 ? `/${extra}` : ""}${suffix === "" ? "" : suffix}`;
}
