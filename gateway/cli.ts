#!/usr/bin/env node
/**
 * `gateway [options] MODULE[:EXPORT]` — serve a TSGI application with a master process and N
 * worker processes, as Gunicorn serves WSGI. The same file is the entry point of both: Node's
 * cluster module starts each worker by running this program again, with NODE_UNIQUE_ID set.
 */
import cluster from "node:cluster";
import { Arbiter } from "./arbiter.js";
import { AppImportError, loadApp } from "./app-loader.js";
import { ConfigError, loadConfig } from "./config.js";
import { helpText, printConfig } from "./help.js";
import { VERSION } from "./version.js";
import { runWorker } from "./worker.js";

function fail(message: string, code = 2): never {
  process.stderr.write(`gateway: error: ${message}\n`);
  process.exit(code);
}

async function main(argv: string[]): Promise<number> {
  let config;
  try {
    config = await loadConfig(argv);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  if (config.help) {
    process.stdout.write(helpText());
    return 0;
  }
  if (config.version) {
    process.stdout.write(`gateway (foobar) ${VERSION}\n`);
    return 0;
  }
  const { settings } = config;
  if (settings.app === null) fail("no application given: gateway [options] MODULE[:EXPORT]");
  if (settings.print_config) {
    process.stdout.write(printConfig(config));
    return 0;
  }
  if (settings.check_config) {
    try {
      await loadApp(settings.app);
    } catch (error) {
      if (error instanceof AppImportError) fail(error.message, 1);
      throw error;
    }
    process.stdout.write("gateway: configuration and app are OK\n");
    return 0;
  }
  return await new Arbiter(config, argv).run();
}

if (cluster.isWorker) await runWorker();
else process.exit(await main(process.argv.slice(2)));
