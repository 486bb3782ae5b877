// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${ENV} references in YAML text
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, memoryStore } from "throttlekit";
import { loadConfig } from "throttlekit/config";
import { createHttpLimiter, type HttpRequest } from "throttlekit/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisNode, startRedis } from "../support/redis-server.js";

const dir = mkdtempSync(join(tmpdir(), "tk-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const req: HttpRequest = {
  method: "GET",
  path: "/",
  remoteAddress: "192.0.2.1",
  raw: undefined,
  header: () => undefined,
};

describe("loadConfig", () => {
  it("reads YAML and JSON by extension and builds the memory store", async () => {
    const yaml = await loadConfig(
      file("a.yaml", "policies: 2/min\nstore: { type: memory, maxKeys: 100 }\n"),
    );
    const json = await loadConfig(file("a.json", '{ "policies": "2/min" }'), { env: {} });
    for (const config of [yaml, json]) {
      expect(config.http.store).toBeDefined();
      const limiter = createHttpLimiter({ ...config.http, logger: false });
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push((await limiter.handle(req)).action);
      expect(answers).toEqual(["continue", "continue", "respond"]);
      await limiter.close();
      await config.close();
    }
    expect(json.file).toMatch(/a\.json$/);
  });

  it("keeps a store you pass", async () => {
    const store = memoryStore();
    const config = await loadConfig(file("b.yml", "policies: 1/s\n"), { store });
    expect(config.http.store).toBe(store);
  });

  it("rejects with a ConfigError naming the file", async () => {
    const path = file("bad.yaml", "policies: 1/s\nheaders: loud\n");
    const error = await loadConfig(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems[0]!.option).toBe(`${path}:2:10 headers`);
  });

  it("rejects when the file is missing", async () => {
    await expect(loadConfig(join(dir, "missing.yaml"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("loadConfig with Redis", () => {
  let redis: RedisNode;
  beforeAll(async () => {
    redis = await startRedis();
  }, 20_000);
  afterAll(async () => {
    await redis?.stop();
  });

  it("builds a Redis store from throttlekit's store and from ratethrottle's storage, and closes it", async () => {
    const paths = [
      file(
        "r.yaml",
        `store: { type: redis, url: "redis://127.0.0.1:\${PORT}/0", timeout: 1s }\npolicies: 2/min\n`,
      ),
      file(
        "ratethrottle.yaml",
        "storage:\n  type: redis\n  redis:\n    host: 127.0.0.1\n    port: ${PORT}\n    db: 1\nrules:\n  - { name: api, limit: 2, window: 60 }\n",
      ),
    ];
    for (const [i, path] of paths.entries()) {
      const config = await loadConfig(path, { env: { PORT: String(redis.port) } });
      expect(config.store.type).toBe("redis");
      const limiter = createHttpLimiter({ ...config.http, prefix: `t${i}`, logger: false });
      const answers = [];
      for (let n = 0; n < 3; n++) answers.push((await limiter.handle(req)).action);
      expect(answers).toEqual(["continue", "continue", "respond"]);
      await limiter.close();
      await config.close();
    }
    // The counters are in Redis, not in this process.
    expect(await redis.cli("--scan", "--pattern", "t0*")).not.toBe("");
    expect(await redis.cli("-n", "1", "--scan", "--pattern", "t1*")).not.toBe("");
  }, 20_000);
});
