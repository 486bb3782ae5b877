/**
 * The configuration files bench:operate reads: the small throttlekit.yaml the HTTP server loads
 * (a few rules, limits nothing reaches, on the Redis the bench started) and the 10- and
 * 100-rule files of the in-process figures. Each comes in two versions that differ by one
 * rule's policy, the edit the reload mode toggles.
 */

/** Far above what a run sends: every answer is a 200 unless something is wrong. */
const HIGH = 1_000_000_000;

/**
 * The HTTP server's file: an `x-api-key` identity, a catch-all and four rules (the load hits
 * `api` and the catch-all). `toggled` doubles the `api` rule's limit, the edit made every
 * 500 ms in the reload mode (a changed policy: that rule's counters start afresh, as a real
 * edit's would).
 */
export function httpConfig(toggled: boolean): string {
  return `# bench:operate's server configuration (written by bench/operate/config-files.ts)
store:
  type: redis
  url: redis://127.0.0.1:\${REDIS_PORT}
  onStoreError: fail-closed # a Redis that does not answer shows as 429s, never as silent 200s
identity: { type: apiKey, header: x-api-key }
headers: draft-10
policies: ${HIGH}/min
rules:
  - name: login
    path: /login
    methods: POST
    policies: 5/min
    blockFor: 15m
  - name: api
    path: /api/**
    policies: [${toggled ? 2 * HIGH : HIGH}/min, 100000000/day]
  - name: search
    path: /search
    policies: 100/min
  - path: /health
    exempt: true
`;
}

/**
 * A file of `n` rules on the memory store, as an operator with many routes writes it: named
 * rules, each on its own path, some with methods, a block or a zone. `toggled` changes the
 * policy of the middle rule.
 */
export function manyRules(n: number, toggled: boolean): string {
  const lines = [
    "store: { type: memory }",
    "identity: { type: apiKey, header: x-api-key }",
    "policies: [1000/min, 50000/day]",
    "rules:",
  ];
  for (let i = 0; i < n; i++) {
    // Rules sharing a zone share one pool: the same policies, no blockFor of their own.
    const zoned = i % 7 === 0 && i !== n >> 1;
    const limit = zoned ? 500 : i === n >> 1 && toggled ? 2000 + i : 1000 + i;
    lines.push(`  - name: route-${i}`);
    lines.push(`    path: /v1/route-${i}/**`);
    if (i % 3 === 0) lines.push("    methods: [POST, PUT]");
    lines.push(`    policies: ${limit}/min`);
    if (i % 5 === 0 && !zoned) lines.push("    blockFor: 1m");
    if (zoned) lines.push(`    zone: zone-${i % 4}`);
  }
  return `${lines.join("\n")}\n`;
}
