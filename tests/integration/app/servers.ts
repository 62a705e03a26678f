/** Test servers on loopback, port 0: the gateway serving an app, and plain upstreams. */
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Application } from "../../../tsgi/types.js";
import { createGatewayServer } from "../../../gateway/server.js";
import { Logger, LogFile } from "../../../gateway/log.js";

export interface Running {
  server: Server;
  /** `http://127.0.0.1:PORT` */
  url: string;
  close(): Promise<void>;
}

async function start(server: Server): Promise<Running> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A plain node:http server (an upstream). */
export function listen(listener: RequestListener): Promise<Running> {
  return start(createServer(listener));
}

/** The gateway serving `app`; its error log goes to `logPath` (default: nowhere). */
export function serveApp(app: Application, logPath = "/dev/null"): Promise<Running> {
  return start(createGatewayServer(app, undefined, { log: new Logger(new LogFile(logPath, 2)) }));
}
