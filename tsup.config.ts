import { defineConfig } from "tsup";

/** One entry per subpath export; keep in step with package.json "exports". */
export const entries = {
  index: "src/index.ts",
  store: "src/store-kit.ts",
  testing: "src/testing/index.ts",
  redis: "src/stores/redis/index.ts",
  http: "src/http/index.ts",
  node: "src/adapters/node.ts",
  fetch: "src/adapters/fetch.ts",
  nest: "src/adapters/nest/index.ts",
  fastify: "src/adapters/fastify.ts",
  hono: "src/adapters/hono.ts",
  express: "src/adapters/express.ts",
  koa: "src/adapters/koa.ts",
  ws: "src/adapters/ws/index.ts",
  "socket-io": "src/adapters/socket-io/index.ts",
  grpc: "src/adapters/grpc.ts",
  graphql: "src/graphql/index.ts",
  prometheus: "src/observe/prometheus.ts",
  otel: "src/observe/otel.ts",
  config: "src/config/index.ts",
  dashboard: "src/dashboard/index.ts",
  // The `throttlekit` binary (package.json "bin"), not a subpath export.
  cli: "src/cli/main.ts",
};

export default defineConfig({
  entry: entries,
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  splitting: true,
  treeshake: true,
});
