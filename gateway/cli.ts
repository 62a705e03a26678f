#!/usr/bin/env node
/**
 * `gateway [options] MODULE[:EXPORT]` — serve a TSGI application over HTTP.
 */
import { parseArgs } from "node:util";
import { AppImportError, loadApp } from "./app-loader.js";
import { Logger } from "./log.js";
import { createGatewayServer, DEFAULT_SERVER_SETTINGS } from "./server.js";
import { VERSION } from "./version.js";

const USAGE = `usage: gateway [options] MODULE[:EXPORT]

Serve the TSGI application exported by MODULE (default export unless :EXPORT is given).

options:
  -b, --bind ADDRESS     where to listen, HOST:PORT  [127.0.0.1:8000, or 0.0.0.0:$PORT]
  --root-path PATH       SCRIPT_NAME of the application  [""]
  -h, --help             show this help and exit
  -v, --version          show the version and exit
`;

function fail(message: string): never {
  process.stderr.write(`gateway: error: ${message}\n`);
  process.exit(2);
}

function parseBind(bind: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d+))?$/.exec(bind);
  const port = Number(match?.[3] ?? 8000);
  if (match === null || port > 65535) fail(`--bind: '${bind}' is not HOST:PORT`);
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        bind: { type: "string", short: "b" },
        "root-path": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.version) {
    process.stdout.write(`gateway (foobar) ${VERSION}\n`);
    return;
  }
  if (positionals.length !== 1) fail("expected exactly one application, MODULE[:EXPORT]");
  const defaultBind = process.env.PORT ? `0.0.0.0:${process.env.PORT}` : "127.0.0.1:8000";
  const { host, port } = parseBind(values.bind ?? defaultBind);

  const log = new Logger();
  let app;
  try {
    app = await loadApp(positionals[0]!);
  } catch (error) {
    if (error instanceof AppImportError) fail(error.message);
    throw error;
  }
  const server = createGatewayServer(
    app,
    {
      ...DEFAULT_SERVER_SETTINGS,
      root_path: values["root-path"] ?? "",
      // As the full CLI (branch arbiter) does: behind a proxy in a container network.
      forwarded_allow_ips:
        process.env.FORWARDED_ALLOW_IPS ?? DEFAULT_SERVER_SETTINGS.forwarded_allow_ips,
    },
    { log },
  );
  server.on("error", (error) => fail(`cannot listen on ${host}:${port}: ${error.message}`));
  server.listen(port, host, () =>
    log.info("Listening at: http://%s:%d (%d)", host, port, process.pid),
  );
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", () => process.exit(0));
}

await main(process.argv.slice(2));
