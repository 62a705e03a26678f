/**
 * The environ on a unix socket, which has no address: SERVER_NAME and SERVER_PORT come from the
 * Host header (the port from the scheme when Host has none), REMOTE_ADDR is empty and the peer,
 * a local process, is trusted with X-Forwarded-*.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Application, Environ } from "../../../tsgi/types.js";
import { createGatewayServer, DEFAULT_SERVER_SETTINGS } from "../../../gateway/server.js";
import { Logger } from "../../../gateway/log.js";
import { MemoryLogFile, parseResponse } from "../../helpers/gateway.js";

const folder = mkdtempSync(join(tmpdir(), "gateway-unix-"));
const socketPath = join(folder, "gateway.sock");
const seen: Environ[] = [];
const app: Application = (environ, start) => {
  seen.push({ ...environ });
  start("200 OK", [["Content-Type", "text/plain"]]);
  return [];
};
let server: Server;
beforeAll(async () => {
  server = createGatewayServer(app, DEFAULT_SERVER_SETTINGS, {
    log: new Logger(new MemoryLogFile(), "debug"),
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(folder, { recursive: true, force: true });
});

/** Sends one request over the socket; the environ the app saw. */
async function environFor(head: string): Promise<Environ> {
  const before = seen.length;
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(socketPath, () => socket.write(`${head}Connection: close\r\n\r\n`));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => resolve(Buffer.concat(chunks)));
    socket.on("error", reject);
  });
  expect(parseResponse(raw).code, raw.toString("latin1")).toBe(200);
  expect(seen.length).toBe(before + 1);
  return seen[before]!;
}

describe("environ on a unix socket", () => {
  it.each([
    ["example.com:8080", "", ["example.com", "8080"]],
    ["example.com", "", ["example.com", "80"]],
    ["[::1]:8443", "", ["[::1]", "8443"]],
    ["[::1]", "", ["[::1]", "80"]],
    [":8080", "", ["localhost", "8080"]],
    // The port a Host leaves out is the default of the scheme the proxy says the client used.
    ["example.com", "X-Forwarded-Proto: https\r\n", ["example.com", "443"]],
    ["example.com:8443", "X-Forwarded-Proto: https\r\n", ["example.com", "8443"]],
    // A Host that is not name[:port] names nothing: the defaults, not a piece of it.
    ["a:b:8080", "", ["localhost", "80"]],
    ["example.com:8080x", "", ["localhost", "80"]],
  ])("Host %j %s→ SERVER_NAME, SERVER_PORT %j", async (host, extra, expected) => {
    const environ = await environFor(`GET / HTTP/1.1\r\nHost: ${host}\r\n${extra}`);
    expect([environ.SERVER_NAME, environ.SERVER_PORT]).toEqual(expected);
  });

  it("without a Host (HTTP/1.0): localhost, port 80 (443 behind an https proxy)", async () => {
    const environ = await environFor("GET / HTTP/1.0\r\n");
    expect([environ.SERVER_NAME, environ.SERVER_PORT]).toEqual(["localhost", "80"]);
    const https = await environFor("GET / HTTP/1.0\r\nX-Forwarded-Proto: https\r\n");
    expect([https.SERVER_NAME, https.SERVER_PORT]).toEqual(["localhost", "443"]);
  });

  it("the peer has no address or port, and is trusted to name the client", async () => {
    const plain = await environFor("GET / HTTP/1.1\r\nHost: h\r\n");
    expect([plain.REMOTE_ADDR, plain.REMOTE_PORT]).toEqual(["", ""]);
    const forwarded = await environFor(
      "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.7\r\n",
    );
    expect(forwarded.REMOTE_ADDR).toBe("203.0.113.7");
  });
});
