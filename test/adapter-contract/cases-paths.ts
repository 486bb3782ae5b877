import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import type { CaseKit } from "./contract.js";

/**
 * Spellings of `POST /login` a client may try to walk around a rule on `/login` (issue 13,
 * item 6). Each goes out on a raw socket, exactly as written: fetch would normalise some of them
 * (it drops a fragment, and cannot send an absolute-form target).
 */
export const LOGIN_FORMS = [
  "/login",
  "/LOGIN",
  "/Login",
  "/%6cogin",
  "/log%69n",
  "//login",
  "/login/",
  "/login//",
  "/login#x",
  "/login?x=1",
  "/a/../login",
  "/a/%2e%2e/login",
  "http://127.0.0.1/login",
] as const;

/** One spelling of the login path. */
export type LoginForm = (typeof LOGIN_FORMS)[number];

/** Status and body of one request sent on its own connection, the target written verbatim. */
export async function rawRequest(
  url: string,
  method: string,
  target: string,
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(
        `${method} ${target} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
    });
    let data = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      data += chunk;
    });
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
  });
  const split = text.indexOf("\r\n\r\n");
  const head = text.slice(0, split);
  let body = text.slice(split + 4);
  if (/^transfer-encoding:\s*chunked/im.test(head)) {
    let out = "";
    for (let at = 0; ; ) {
      const eol = body.indexOf("\r\n", at);
      const size = Number.parseInt(body.slice(at, eol), 16);
      if (!(size > 0)) break;
      out += body.slice(eol + 2, eol + 2 + size);
      at = eol + 2 + size + 2;
    }
    body = out;
  }
  return { status: Number(head.split(" ")[1]), body };
}

/**
 * Path rules under the framework's own routing: whatever spelling the framework routes to the
 * `POST /login` handler (it answers `login`) is limited by a rule on `/login`. Spellings it
 * routes elsewhere may be limited or not; the runner's `loginRoutes` says which ones reach the
 * handler, and the contract checks the framework still does exactly that.
 */
export function pathCases({ setup, runner }: CaseKit): void {
  describe("a path rule holds for every spelling the framework routes to its handler", () => {
    for (const form of LOGIN_FORMS) {
      it(`POST ${form}`, async () => {
        const t = await setup({ rules: [{ path: "/login", methods: "POST", policies: "1/min" }] });
        const first = await rawRequest(t.url, "POST", form);
        const routed = first.status === 200 && first.body === "login";
        if (!routed) expect(first.body).not.toBe("login");
        if (runner.loginRoutes !== undefined) {
          expect(routed, `does ${runner.name} route ${form} to POST /login?`).toBe(
            runner.loginRoutes.includes(form),
          );
        }
        const second = await rawRequest(t.url, "POST", form);
        if (routed) expect(second.status).toBe(429);
        else expect([200, 404, 429]).toContain(second.status);
        // The rule's pool is the one /login uses: a routed spelling spent the plain path's quota.
        if (routed) expect((await rawRequest(t.url, "POST", "/login")).status).toBe(429);
      });
    }
  });
}
