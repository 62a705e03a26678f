/**
 * Stand-in for the pre-fork CLI (`gateway -w N`) while it has not landed: N workers under Node's
 * `cluster`, each running the real gateway server (`createGatewayServer`) with the given app.
 * The bench uses `dist/gateway/cli.js -w N` as soon as the CLI accepts `-w`.
 *
 *   node dist/bench/servers/foobar-cluster.js PORT WORKERS MODULE[:EXPORT]
 */
import cluster from "node:cluster";
import { loadApp } from "../../gateway/app-loader.js";
import { createGatewayServer, DEFAULT_SERVER_SETTINGS } from "../../gateway/server.js";
import { parseServerArgs } from "./args.js";

const { port, workers } = parseServerArgs(process.argv.slice(2));
const module = process.argv[4];
if (module === undefined) {
  process.stderr.write("usage: foobar-cluster.js PORT WORKERS MODULE[:EXPORT]\n");
  process.exit(2);
}

if (workers > 0 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on("SIGTERM", () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  });
} else {
  const app = await loadApp(module);
  createGatewayServer(app, { ...DEFAULT_SERVER_SETTINGS, multiprocess: workers > 1 }).listen(
    port,
    "127.0.0.1",
  );
}
