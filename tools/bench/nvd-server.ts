import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { syntheticNvdHandler } from "../synthetic/nvd-feed.ts";

/**
 * The synthetic NVD for the benchmark, in its own process so that the benchmark's peak RSS is the
 * adapter's alone. Started with fork(): argv[2] is the number of records; it reports its port over IPC
 * and exits when the parent disconnects (or dies), so it never outlives the benchmark.
 */
const total = Number(process.argv[2] ?? 340_000);
const server = createServer(syntheticNvdHandler(total));
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on("disconnect", () => {
  server.closeAllConnections();
  server.close();
  process.exit(0);
});
