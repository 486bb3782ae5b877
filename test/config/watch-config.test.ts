import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConfigError, createEvents, memoryStore } from "throttlekit";
import { type LoadedConfig, watchConfig } from "throttlekit/config";
import { afterAll, describe, expect, it, vi } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "tk-watch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("watchConfig on real file edits", () => {
  it("passes valid edits on, refuses bad ones once each, and refuses a change of store", async () => {
    const path = join(dir, "throttlekit.yaml");
    writeFileSync(path, "policies: 10/min\n");
    const store = memoryStore();
    const changes: LoadedConfig[] = [];
    const errors: ConfigError[] = [];
    const logged: string[] = [];
    const events = createEvents();
    const rejected: string[] = [];
    events.on("reloadRejected", (e) => rejected.push(e.source ?? ""));
    const watcher = watchConfig(path, (c) => void changes.push(c), {
      store,
      env: {},
      debounce: "20ms",
      logger: { warn: (m) => logged.push(m) },
      onError: (e) => errors.push(e),
      events,
    });
    try {
      writeFileSync(path, "policies: 20/min\n");
      await vi.waitFor(() => expect(changes).toHaveLength(1), { timeout: 5000 });
      expect(changes[0]!.http.policies).toBe("20/min");
      expect(changes[0]!.http.store).toBe(store);

      // An editor's save: a new file renamed over the old one.
      writeFileSync(`${path}.tmp`, "policies: 30/min\n");
      renameSync(`${path}.tmp`, path);
      await vi.waitFor(() => expect(changes).toHaveLength(2), { timeout: 5000 });
      expect(changes[1]!.http.policies).toBe("30/min");

      writeFileSync(path, "policies: 30/min\nheaders: loud\n");
      await vi.waitFor(() => expect(errors).toHaveLength(1), { timeout: 5000 });
      expect(errors[0]!.problems[0]!.option).toBe(`${path}:2:10 headers`);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatch(
        /WARN_TK_RELOAD_REJECTED: .*throttlekit\.yaml was changed but the change was refused/,
      );
      expect(rejected).toEqual([path]);

      writeFileSync(path, "policies: 30/min\nstore: { type: redis, url: 'redis://127.0.0.1:1' }\n");
      await vi.waitFor(() => expect(errors).toHaveLength(2), { timeout: 5000 });
      expect(errors[1]!.problems[0]!).toMatchObject({
        option: `${path}:2:1 store`,
        expected: "the running store (memory): store changes need a restart",
      });

      writeFileSync(path, "policies: 40/min\n");
      await vi.waitFor(() => expect(changes).toHaveLength(3), { timeout: 5000 });
      expect(changes.map((c) => c.http.policies)).toEqual(["20/min", "30/min", "40/min"]);
      expect(logged).toHaveLength(2); // one line per refused edit, none for valid ones
    } finally {
      await watcher.close();
    }
  });

  it("builds the store from the first version when none is given, and closes it", async () => {
    const path = join(dir, "own-store.yaml");
    writeFileSync(path, "policies: 1/s\n");
    const changes: LoadedConfig[] = [];
    const watcher = watchConfig(path, (c) => void changes.push(c), {
      debounce: 10,
      logger: false,
      env: {},
    });
    writeFileSync(path, "policies: 2/s\n");
    writeFileSync(path, "policies: 3/s\n");
    await vi.waitFor(() => expect(changes.at(-1)?.http.policies).toBe("3/s"), { timeout: 5000 });
    writeFileSync(path, "policies: 4/s\n");
    await vi.waitFor(() => expect(changes.at(-1)?.http.policies).toBe("4/s"), { timeout: 5000 });
    expect(changes.at(-1)!.http.store).toBeDefined();
    expect(changes.at(-1)!.http.store).toBe(changes[0]!.http.store);
    await watcher.close();
  });

  it("validates its own options", () => {
    expect(() => watchConfig("x.yaml", () => {}, { debounce: "soon", logger: 3 as never })).toThrow(
      /debounce: received "soon"[\s\S]*logger: received 3/,
    );
  });
});
