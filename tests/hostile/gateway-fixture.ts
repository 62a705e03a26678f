/**
 * A gateway server in the test process, on 127.0.0.1 and an ephemeral port, with a log that the
 * test can read. Each distinct settings object gets its own server.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Logger, LogFile, type Level } from "../../gateway/log.js";
import { createGatewayServer, DEFAULT_SERVER_SETTINGS } from "../../gateway/server.js";
import type { ServerSettings } from "../../gateway/server.js";
import type { Application } from "../../tsgi/types.js";

/** A Logger that keeps its lines in memory instead of writing them. */
export class MemoryLogger extends Logger {
  readonly lines: string[] = [];
  constructor() {
    super(new LogFile("-", 2), "debug");
  }
  override log(level: Level, message: string, ...args: unknown[]): void {
    const text = args.length > 0 ? format(message, args) : message;
    this.lines.push(`[${level.toUpperCase()}] ${text}`);
  }
}

function format(message: string, args: unknown[]): string {
  let index = 0;
  return message.replace(/%[sdj%]/g, (token) =>
    token === "%%" ? "%" : String(args[index++] as string),
  );
}

export interface RunningGateway {
  server: Server;
  port: number;
  log: MemoryLogger;
  close(): Promise<void>;
}

export async function startGateway(
  app: Application,
  settings: Partial<ServerSettings> = {},
): Promise<RunningGateway> {
  const log = new MemoryLogger();
  const server = createGatewayServer(app, { ...DEFAULT_SERVER_SETTINGS, ...settings }, { log });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Reads the whole body, then answers 200 with what it read: the corpus's application. */
export const echoApp: Application = async (environ, startResponse) => {
  const body = await environ["tsgi.input"].read();
  const text = `${environ.REQUEST_METHOD} ${environ.PATH_INFO} read ${body.length} bytes\n`;
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [Buffer.from(text)];
};
