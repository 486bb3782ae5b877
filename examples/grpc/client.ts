/**
 * Calls examples/grpc/server.ts: seven SayHello calls (the last two are refused with
 * RESOURCE_EXHAUSTED, and the trailers say when to retry), then three Slow calls at once (one
 * is refused: two in flight at most), then the same SayHello with a retry policy that waits
 * out grpc-retry-pushback-ms. Run `node --import tsx examples/grpc/client.ts`.
 */
import { fileURLToPath } from "node:url";
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const proto = fileURLToPath(new URL("./greeter.proto", import.meta.url));
const pkg = loadPackageDefinition(loadSync(proto)) as unknown as {
  demo: { Greeter: ServiceClientConstructor };
};
const target = `127.0.0.1:${process.env.PORT ?? 50051}`;

type Call = (
  req: object,
  md: Metadata,
  cb: (e: ServiceError | null, r?: { message: string }) => void,
) => void;
const call = (client: object, method: string, name: string, key = "demo-key") =>
  new Promise<string>((resolve) => {
    const md = new Metadata();
    md.set("x-api-key", key);
    ((client as Record<string, Call>)[method] as Call).call(
      client,
      { name },
      md,
      (error, reply) => {
        if (!error) return resolve(reply!.message);
        const t = (k: string) => error.metadata.get(k)[0] ?? "-";
        resolve(
          `${error.code} ${error.details} | retry-after=${t("retry-after")} pushback-ms=${t("grpc-retry-pushback-ms")} ratelimit=${t("ratelimit")}`,
        );
      },
    );
  });

const plain = new pkg.demo.Greeter(target, credentials.createInsecure());
for (let i = 1; i <= 7; i++) console.log(`SayHello #${i}:`, await call(plain, "SayHello", `#${i}`));
console.log(
  "Slow x3:",
  await Promise.all([1, 2, 3].map((i) => call(plain, "Slow", `#${i}`, "slow-key"))),
);

// A client whose retry policy covers RESOURCE_EXHAUSTED honours the server's pushback (gRFC A6).
const retrying = new pkg.demo.Greeter(target, credentials.createInsecure(), {
  "grpc.enable_retries": 1,
  "grpc.service_config": JSON.stringify({
    methodConfig: [
      {
        name: [{ service: "demo.Greeter" }],
        retryPolicy: {
          maxAttempts: 2,
          initialBackoff: "0.1s",
          maxBackoff: "1s",
          backoffMultiplier: 2,
          retryableStatusCodes: ["RESOURCE_EXHAUSTED"],
        },
      },
    ],
  }),
});
console.log(
  "retrying client (waits out the pushback if it is short):",
  await call(retrying, "SayHello", "again", "fresh-key"),
);
plain.close();
retrying.close();
