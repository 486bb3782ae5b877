/**
 * A grpc-js server on 127.0.0.1:50051 (or $PORT) behind throttlekit/grpc, memory store:
 *   - SayHello: 5 calls a minute per API key (metadata `x-api-key`), else by peer address;
 *   - Slow (takes 2 s): at most 2 calls in flight per client (every method counts);
 *   - Chat (bidi): 10 messages a second per stream.
 * Run `node --import tsx examples/grpc/server.ts`, then `node --import tsx examples/grpc/client.ts`.
 */
import { fileURLToPath } from "node:url";
import {
  loadPackageDefinition,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServiceClientConstructor,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { grpcRateLimit } from "throttlekit/grpc";
import { apiKey, ip } from "throttlekit/http";

type Req = { name: string };
type Reply = { message: string };

const proto = fileURLToPath(new URL("./greeter.proto", import.meta.url));
const pkg = loadPackageDefinition(loadSync(proto)) as unknown as {
  demo: { Greeter: ServiceClientConstructor };
};

const limit = grpcRateLimit({
  identity: apiKey("x-api-key", { fallback: ip() }),
  rules: [
    { path: "/demo.Greeter/SayHello", policies: { limit: 5, window: "1m", name: "hello" } },
    { path: "/demo.Greeter/*", policies: "100/min" },
  ],
  maxConcurrent: 2,
  leaseMs: "30s",
  messages: { policies: "10/s", per: "call" },
});

const server = new Server({ interceptors: [limit] });
server.addService(pkg.demo.Greeter.service, {
  SayHello: (call: ServerUnaryCall<Req, Reply>, done: sendUnaryData<Reply>) =>
    done(null, { message: `hello ${call.request.name}` }),
  Slow: (call: ServerUnaryCall<Req, Reply>, done: sendUnaryData<Reply>) => {
    setTimeout(() => done(null, { message: `slowly, ${call.request.name}` }), 2000);
  },
  Chat: (call: ServerDuplexStream<Req, Reply>) => {
    call.on("data", (r: Req) => call.write({ message: `echo ${r.name}` }));
    call.on("end", () => call.end());
  },
});

const port = Number(process.env.PORT ?? 50051);
server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error, bound) => {
  if (error) throw error;
  console.log(`listening on 127.0.0.1:${bound}`);
});

const stop = () => server.tryShutdown(() => void limit.close());
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
