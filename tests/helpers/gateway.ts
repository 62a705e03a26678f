/**
 * Shared test helpers: run the gateway on an ephemeral loopback port, capture its log, and talk
 * to it with raw bytes when node:http would hide what is on the wire.
 */
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import type { Server } from "node:http";
import type { Application } from "../../tsgi/types.js";
import {
  createGatewayServer,
  DEFAULT_SERVER_SETTINGS,
  type GatewayServerOptions,
  type ServerSettings,
} from "../../gateway/server.js";
import { LogFile, Logger } from "../../gateway/log.js";

/** A log destination that keeps everything in memory, for assertions on log lines. */
export class MemoryLogFile extends LogFile {
  text = "";
  constructor() {
    super("-", 2);
  }
  override write(text: string): void {
    this.text += text;
  }
  override reopen(): void {}
}

export interface RunningGateway {
  server: Server;
  port: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Everything the gateway logged so far. */
  log: MemoryLogFile;
  close(): Promise<void>;
}

/** Starts `createGatewayServer(app)` on 127.0.0.1:0; `close()` ends every connection too. */
export async function startGateway(
  app: Application,
  settings: Partial<ServerSettings> = {},
  options: Omit<GatewayServerOptions, "log"> = {},
): Promise<RunningGateway> {
  const log = new MemoryLogFile();
  const server = createGatewayServer(
    app,
    { ...DEFAULT_SERVER_SETTINGS, ...settings },
    { ...options, log: new Logger(log, "debug") },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RawRequestOptions {
  /** Stop reading (and close the socket) once this returns true for what arrived so far. */
  until?: (received: Buffer) => boolean;
  /** Give up after this many milliseconds (default 10 s). */
  timeoutMs?: number;
}

/**
 * Sends `bytes` on a fresh TCP connection and resolves with everything the server sent back,
 * when the server closes the connection (or when `until` says enough).
 */
export function rawRequest(
  port: number,
  bytes: string | Uint8Array,
  { until, timeoutMs = 10_000 }: RawRequestOptions = {},
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`rawRequest: no end after ${timeoutMs} ms; got ${Buffer.concat(chunks)}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      if (until?.(Buffer.concat(chunks))) finish();
    });
    socket.on("end", finish);
    socket.on("close", finish);
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.write(typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes);
  });
}

export interface RawResponse {
  /** `HTTP/1.1 200 OK` */
  statusLine: string;
  code: number;
  /** Lower-case name → values, in order. */
  headers: Map<string, string[]>;
  header(name: string): string | undefined;
  /** Everything after the blank line, as received (still chunked if it was). */
  body: Buffer;
}

/** Splits one raw HTTP response into status line, headers and body bytes. */
export function parseResponse(raw: Buffer): RawResponse {
  const end = raw.indexOf("\r\n\r\n");
  if (end === -1) throw new Error(`no end of headers in ${JSON.stringify(raw.toString("latin1"))}`);
  const [statusLine = "", ...lines] = raw.subarray(0, end).toString("latin1").split("\r\n");
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return {
    statusLine,
    code: Number(statusLine.split(" ")[1]),
    headers,
    header: (name) => headers.get(name.toLowerCase())?.join(", "),
    body: raw.subarray(end + 4),
  };
}

/** Decodes a complete chunked body; throws if the terminating zero-size chunk is missing. */
export function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", offset);
    if (lineEnd === -1) throw new Error("chunked body ends without the last chunk");
    const size = parseInt(body.subarray(offset, lineEnd).toString("latin1"), 16);
    if (size === 0) return Buffer.concat(parts);
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
}

/** Resolves when `condition()` holds, checking every 10 ms; rejects after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("waitFor: condition never became true");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
