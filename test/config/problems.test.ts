// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${ENV} references in YAML text are what these tests are about
import { ConfigError } from "throttlekit";
import { parseConfig } from "throttlekit/config";
import { describe, expect, it } from "vitest";

function problemsOf(text: string, options: Parameters<typeof parseConfig>[1]): string[] {
  try {
    parseConfig(text, { env: {}, ...options });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((p) => p.option);
  }
  throw new Error("expected a ConfigError");
}

describe("every problem at once, with file:line:column", () => {
  it("a ratethrottle.yaml with five mistakes reports all five with their lines", () => {
    const text = [
      "storage:",
      "  type: redis",
      "  redis:",
      "    port: 99999", // 4: port out of range
      "rules:",
      "  - name: api",
      "    limit: 0", // 7: limit below 1
      "    window: 60",
      "    strategy: sliding_windw", // 9: unknown strategy
      "  - name: login",
      "    limit: 5",
      "    window: 1m", // 12: window in seconds, not text
      "    paths: [/login]",
      "ddos_protection:",
      "  treshold: 100", // 15: unknown key (typo)
    ].join("\n");
    let error: ConfigError | undefined;
    try {
      parseConfig(text, { file: "ratethrottle.yaml", env: {} });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.problems.map((p) => p.option)).toEqual([
      "ratethrottle.yaml:4:11 storage.redis.port",
      "ratethrottle.yaml:7:12 rules[0].limit",
      "ratethrottle.yaml:9:15 rules[0].strategy",
      "ratethrottle.yaml:12:13 rules[1].window",
      "ratethrottle.yaml:15:3 ddos_protection.treshold",
    ]);
    expect(error?.problems.map((p) => p.received)).toEqual([99999, 0, "sliding_windw", "1m", 100]);
    expect(error?.problems[2]?.expected).toBe(
      "one of token_bucket, leaky_bucket, fixed_window, sliding_window, sliding_log",
    );
    expect(error?.message).toContain(
      'ratethrottle.yaml:9:15 rules[0].strategy: received "sliding_windw"; expected one of token_bucket',
    );
  });

  it("a throttlekit.yaml with five mistakes, the limiter's own checks among them, reports all five", () => {
    const text = [
      "policies: 100/fortnight", // 1: the limiter's policy check
      "rules:",
      "  - path: /login",
      "    policies: 5/min",
      "    blockFor: soon", // 5: the limiter's blockFor check
      "    colour: red", // 6: unknown rule key
      "headers: draft-99", // 7: the limiter's header check
      "store: { type: redis, url: http://cache }", // 8: not a Redis URL
    ].join("\n");
    expect(problemsOf(text, { file: "throttlekit.yaml" })).toEqual(
      [
        "throttlekit.yaml:6:5 rules[0].colour",
        "throttlekit.yaml:8:28 store.url",
        "throttlekit.yaml:1:11 policies",
        "throttlekit.yaml:7:10 headers",
        "throttlekit.yaml:5:15 rules[0].blockFor",
      ].sort(byLine),
    );
  });

  it("locates JSON too (read through the YAML parser)", () => {
    const json =
      '{\n  "policies": "10/s",\n  "rules": [\n    { "path": "/a", "policies": "5/lightyear" }\n  ]\n}';
    expect(problemsOf(json, { file: "throttlekit.json" })).toEqual([
      "throttlekit.json:4:33 rules[0].policies",
    ]);
    const config = parseConfig(json.replace("lightyear", "min"), {
      file: "throttlekit.json",
      env: {},
    });
    expect(config.http.rules).toEqual([{ path: "/a", policies: "5/min" }]);
  });

  it("reports a syntax error at its line, once per line", () => {
    expect(problemsOf("policies: 10/s\nrules: [ { path: /a\n", { file: "x.yaml" })).toEqual([
      expect.stringMatching(/^x\.yaml:3:1$/),
    ]);
    expect(problemsOf('{ "policies": "10/s", }', { file: "x.json" })[0]).toMatch(/^x\.json:1:/);
    expect(problemsOf("policies: 10/s\npolicies: 20/s\n", { file: "x.yaml" })).toEqual([
      "x.yaml:2:1",
    ]);
  });

  it("refuses a top level that is not a map, and a misspelt top-level key", () => {
    expect(problemsOf("- 10/s\n", { file: "x.yaml" })).toEqual(["x.yaml:1:1"]);
    expect(problemsOf("policies: 10/s\npolicy: 5/s\n", { file: "x.yaml" })).toEqual([
      "x.yaml:2:1 policy",
    ]);
  });

  it("names `<config>` when no file is given", () => {
    expect(problemsOf("policies: nope\n", {})).toEqual(["<config>:1:11 policies"]);
  });
});

describe("${ENV} interpolation", () => {
  it("replaces ${NAME} and ${NAME:-default}; a whole plain reference takes its type", () => {
    const c = parseConfig(
      [
        "prefix: ${PREFIX}-api",
        "policies:",
        "  - limit: ${LIMIT}",
        "    window: 1m",
        "  - ${DAILY:-1000/day}",
        "trustProxy: ${HOPS}",
        'lists: { deny: ["apikey:${LEAKED}", "$${NOT_A_VAR}"] }',
        "countFailed: ${COUNT_FAILED:-false}",
      ].join("\n"),
      { env: { PREFIX: "shop", LIMIT: "100", HOPS: "2", LEAKED: "k1", DAILY: "" } },
    );
    expect(c.http.prefix).toBe("shop-api");
    expect(c.http.policies).toEqual([{ limit: 100, window: "1m" }, "1000/day"]);
    expect(c.http.trustProxy).toBe(2);
    expect(c.http.deny).toEqual(["apikey:k1", "${NOT_A_VAR}"]);
    expect(c.http.countFailed).toBe(false);
    expect(c.source).toMatchObject({ prefix: "shop-api" });
  });

  it("keeps a quoted YAML reference a string", () => {
    const c = parseConfig('prefix: "${P}"\npolicies: 1/s\n', { env: { P: "123" } });
    expect(c.http.prefix).toBe("123");
  });

  it("a missing variable without default is a problem at its position, with the others", () => {
    expect(
      problemsOf(
        "prefix: ${PREFIX}\npolicies: ${POLICY}\nrules:\n  - path: /a\n    policies: ${BAD NAME}\n",
        {
          file: "t.yaml",
        },
      ),
    ).toEqual(["t.yaml:1:9 prefix", "t.yaml:2:11 policies", "t.yaml:5:15 rules[0].policies"]);
  });

  it("reads process.env by default", () => {
    process.env.TK_CONFIG_TEST_LIMIT = "7/s";
    try {
      expect(parseConfig("policies: ${TK_CONFIG_TEST_LIMIT}\n").http.policies).toBe("7/s");
    } finally {
      delete process.env.TK_CONFIG_TEST_LIMIT;
    }
  });
});

function byLine(a: string, b: string): number {
  const line = (s: string) => Number(/:(\d+):/.exec(s)![1]);
  return line(a) - line(b);
}
