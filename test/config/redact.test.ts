import { parseConfig, redactConfig } from "throttlekit/config";
import { describe, expect, it } from "vitest";

describe("redactConfig", () => {
  it("replaces passwords, secrets, keys and tokens, and keeps the structure", () => {
    const source = parseConfig(
      [
        "store: { type: redis, url: 'redis://app:hunter2@cache:6379/0' }",
        "identity: { type: jwt, secret: s3cret }",
        "lists: { deny: ['apikey:leaked', 198.51.100.7] }",
        "policies: 1/s",
      ].join("\n"),
      { env: {} },
    ).source;
    expect(redactConfig(source)).toEqual({
      store: { type: "redis", url: "redis://app:[redacted]@cache:6379/0" },
      identity: { type: "jwt", secret: "[redacted]" },
      lists: { deny: ["apikey:[redacted]", "198.51.100.7"] },
      policies: "1/s",
    });
  });

  it("covers ratethrottle's names and leaves the rest alone", () => {
    expect(
      redactConfig({
        storage: { redis: { password: "pw", key_prefix: "rt:", host: "h" } },
        alerts: {
          email: { smtp_password: "x", smtp_user: "me" },
          api_key: "k",
          "access-token": "t",
        },
        rules: [{ name: "a", limit: 1 }],
        nothing: null,
      }),
    ).toEqual({
      storage: { redis: { password: "[redacted]", key_prefix: "rt:", host: "h" } },
      alerts: {
        email: { smtp_password: "[redacted]", smtp_user: "me" },
        api_key: "[redacted]",
        "access-token": "[redacted]",
      },
      rules: [{ name: "a", limit: 1 }],
      nothing: null,
    });
  });
});
