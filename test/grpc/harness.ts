/**
 * A real grpc-js server on 127.0.0.1:0 serving test/grpc/fixtures/hello.proto (loaded by
 * @grpc/proto-loader) behind an interceptor, and clients for it.
 */
import { fileURLToPath } from "node:url";
import {
  type ChannelOptions,
  type Client,
  credentials,
  loadPackageDefinition,
  Metadata,
  Server,
  ServerCredentials,
  type ServerInterceptor,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

export const PROTO = fileURLToPath(new URL("./fixtures/hello.proto", import.meta.url));

type Pkg = { hello: { Greeter: ServiceClientConstructor; Other: ServiceClientConstructor } };

export function loadHello(): Pkg {
  return loadPackageDefinition(loadSync(PROTO, { keepCase: true })) as unknown as Pkg;
}

type Reply = { message: string };
type Req = { name: string };

/** Calls of Hold wait here until the test releases them. */
export type Holds = { waiting: (() => void)[]; releaseAll(): void };

export type Harness = {
  port: number;
  server: Server;
  holds: Holds;
  client(options?: ChannelOptions): GreeterClient;
  close(): Promise<void>;
};

export type GreeterClient = Client & Record<string, (...args: unknown[]) => unknown>;

export async function startGrpc(interceptors: ServerInterceptor[]): Promise<Harness> {
  const pkg = loadHello();
  const holds: Holds = {
    waiting: [],
    releaseAll() {
      for (const w of this.waiting.splice(0)) w();
    },
  };
  const server = new Server({ interceptors });
  const reply = (name: string): Reply => ({ message: `hello ${name}` });
  server.addService(pkg.hello.Greeter.service, {
    SayHello: (call: { request: Req }, cb: (e: null, r: Reply) => void) =>
      cb(null, reply(call.request.name)),
    Hold: (call: { request: Req }, cb: (e: null, r: Reply) => void) => {
      holds.waiting.push(() => cb(null, reply(call.request.name)));
    },
    ServerStream: (call: { request: Req; write(r: Reply): void; end(): void }) => {
      for (let i = 0; i < 3; i++) call.write(reply(`${call.request.name} ${i}`));
      call.end();
    },
    ClientStream: (
      call: { on(e: string, f: (x?: Req) => void): void },
      cb: (e: null, r: Reply) => void,
    ) => {
      const names: string[] = [];
      call.on("data", (r) => names.push(r!.name));
      call.on("end", () => cb(null, reply(names.join(","))));
    },
    Chat: (call: {
      on(e: string, f: (x?: Req) => void): void;
      write(r: Reply): void;
      end(): void;
    }) => {
      call.on("data", (r) => call.write(reply(r!.name)));
      call.on("end", () => call.end());
    },
  });
  server.addService(pkg.hello.Other.service, {
    Ping: (call: { request: Req }, cb: (e: null, r: Reply) => void) =>
      cb(null, reply(call.request.name)),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const clients: Client[] = [];
  return {
    port,
    server,
    holds,
    client(options = {}) {
      const c = new pkg.hello.Greeter(
        `127.0.0.1:${port}`,
        credentials.createInsecure(),
        options,
      ) as unknown as GreeterClient;
      clients.push(c);
      return c;
    },
    async close() {
      holds.releaseAll();
      for (const c of clients) c.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

export function meta(entries: Record<string, string>): Metadata {
  const m = new Metadata();
  for (const [k, v] of Object.entries(entries)) m.set(k, v);
  return m;
}

export type UnaryResult = { error: ServiceError | null; reply: Reply | undefined };

/** A unary call as a promise that never rejects: the error (with its trailers) is data. */
export function unary(
  client: GreeterClient,
  method: string,
  name: string,
  metadata: Metadata = new Metadata(),
  options: Record<string, unknown> = {},
): Promise<UnaryResult> {
  return new Promise((resolve) => {
    (client[method] as (...a: unknown[]) => unknown)(
      { name },
      metadata,
      options,
      (error: ServiceError | null, reply?: Reply) => resolve({ error, reply }),
    );
  });
}

/** Polls `check` until it is true, at most `ms` (for state another process or timer changes). */
export async function eventually(check: () => Promise<boolean>, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}
