/**
 * A node:http server limited by a configuration file, reloaded when the file changes:
 *   npx tsx examples/config/server.ts [examples/config/throttlekit.yaml | examples/config/ratethrottle.yaml]
 * Edit the file while it runs: a valid edit applies between requests (unchanged rules keep
 * their counters), a broken one is refused with its line and the running config keeps serving.
 */
import { createServer } from "node:http";
import { loadConfig, watchConfig } from "throttlekit/config";
import { nodeRateLimit } from "throttlekit/node";

const file = process.argv[2] ?? new URL("./throttlekit.yaml", import.meta.url).pathname;
const config = await loadConfig(file);
for (const note of config.notes) console.warn(`note: ${note.option}: ${note.expected}`);
const limit = nodeRateLimit(config.http);
const watcher = watchConfig(file, (next) => limit.limiter.reload(next.http, { source: file }), {
  store: config.http.store!,
  events: limit.limiter.events,
});

const server = createServer(limit.wrap((req, res) => res.end(`Hello from ${req.url}\n`)));
const port = Number(process.env.PORT ?? 3000);
server.listen(port, "127.0.0.1", () =>
  console.log(`${config.schema} config on http://127.0.0.1:${port}`),
);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    server.close();
    server.closeAllConnections();
    void Promise.all([watcher.close(), limit.limiter.close(), config.close()]).then(() =>
      process.exit(0),
    );
  });
}
