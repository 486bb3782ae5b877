/**
 * Runs an example server (examples/<name>/server.ts) as its header says: in its own process on
 * a port the OS picks, stopped with SIGTERM. Shared by the prometheus and otel example tests.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "../..");

export type ExampleProcess = {
  readonly url: string;
  /** Everything the process printed so far. */
  stdout(): string;
  /** SIGTERM; resolves with the exit code once it is gone. */
  stop(): Promise<number | null>;
  kill(): void;
};

export async function startExample(script: string): Promise<ExampleProcess> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const port = await new Promise<string>((resolve, reject) => {
    const look = () => {
      const m = /listening on (\d+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on("data", look);
    child.once("exit", (code) => reject(new Error(`${script} exited ${code}: ${err}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stdout: () => out,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const [code] = await exited;
      return code as number | null;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}
