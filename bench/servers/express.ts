/**
 * Contestant: the bench's Express hello app on its own Node server (`app.listen`).
 *
 *   node dist/bench/servers/express.js PORT [WORKERS]
 */
import { serveFromArgs } from "./args.js";
import { helloExpress } from "./hello-frameworks.js";

await serveFromArgs(process.argv.slice(2), (port) => {
  helloExpress().listen(port, "127.0.0.1");
});
