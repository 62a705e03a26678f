#!/usr/bin/env node
/**
 * `gateway [options] MODULE[:EXPORT]` — serve a TSGI application with a master process and N
 * worker processes, as Gunicorn serves WSGI. The same file is the entry point of both: Node's
 * cluster module starts each worker by running this program again, with NODE_UNIQUE_ID set.
 *
 * Everything up to the first worker (settings, paths, addresses, the app's module) is checked
 * by startup.ts; a problem there is one line and an exit code (2 usage, 3 boot, 4 app).
 */
import cluster from "node:cluster";
import { prepare, unexpectedErrorText } from "./startup.js";

// The arbiter and the worker (and the HTTP server under them) are imported only by the
// process that runs them: a mistake on the command line is answered without loading them.

async function main(argv: string[]): Promise<number> {
  // `gateway status …` reads a running master's worker stats (status-command.ts).
  if (argv[0] === "status")
    return (await import("./status-command.js")).statusCommand(argv.slice(1));
  const outcome = await prepare(argv);
  process.stdout.write(outcome.stdout);
  if (!("serve" in outcome)) {
    process.stderr.write(outcome.stderr);
    return outcome.exitCode;
  }
  const config = outcome.serve;
  try {
    const { Arbiter } = await import("./arbiter.js");
    return await new Arbiter(config, argv).run();
  } catch (error) {
    process.stderr.write(unexpectedErrorText(error, config.settings.loglevel === "debug"));
    return 1;
  }
}

if (cluster.isWorker) await (await import("./worker.js")).runWorker();
else process.exit(await main(process.argv.slice(2)));
