/**
 * Slow and idle clients: the header, request and keep-alive timeouts close what they must, and a
 * crowd of idle connections does not stop new requests from being served.
 */
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { echoApp, startGateway, type RunningGateway } from "./gateway-fixture.js";
import { exchange } from "./raw-http.js";

const running: RunningGateway[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(running.splice(0).map((gateway) => gateway.close()));
});

async function gateway(settings: Parameters<typeof startGateway>[1]): Promise<RunningGateway> {
  const started = await startGateway(echoApp, settings);
  running.push(started);
  return started;
}

function openIdle(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", reject);
    socket.resume(); // read what the server says (a 408, then its FIN), as real clients do
    sockets.push(socket);
  });
}

const closed = (socket: Socket) =>
  new Promise<void>((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once("close", () => resolve());
  });

describe("timeouts", () => {
  it("answers 408 and closes when the headers do not arrive within header_timeout", async () => {
    const { port, log } = await gateway({ header_timeout: 1 });
    const result = await exchange(port, Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n"), {
      expected: 1,
      waitForClose: true,
    });
    expect(result.responses.map((response) => response.status)).toEqual([408]);
    expect(result.closed).toBe(true);
    expect(log.lines.join("\n")).toMatch(/Invalid request from ip=127\.0\.0\.1: Request timeout/);
  });

  it("closes a connection that never sends a byte", async () => {
    const { port } = await gateway({ header_timeout: 1 });
    const result = await exchange(port, Buffer.alloc(0), { expected: 0, waitForClose: true });
    expect(result.closed).toBe(true);
  });

  it("answers 408 when the body trickles in past request_timeout, and keeps serving", async () => {
    const { port } = await gateway({ header_timeout: 1, request_timeout: 2 });
    const slowBody = Buffer.from("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    const result = await exchange(port, slowBody, { expected: 1, waitForClose: true });
    expect(result.responses.map((response) => response.status)).toEqual([408]);
    expect(result.closed).toBe(true);
    const after = await exchange(port, Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), {
      expected: 1,
      waitForClose: false,
    });
    expect(after.responses.map((response) => response.status)).toEqual([200]);
  });

  it("closes an idle keep-alive connection after keepalive seconds", async () => {
    const { port } = await gateway({ keepalive: 1 });
    const result = await exchange(port, Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), {
      expected: 1,
      waitForClose: true,
    });
    expect(result.responses.map((response) => response.status)).toEqual([200]);
    expect(result.closed).toBe(true);
  });
});

/** This process's soft limit on open files (Linux), or Infinity when it cannot be read. */
function openFileLimit(): number {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(
      readFileSync("/proc/self/limits", "utf8"),
    );
    return line === null || line[1] === "unlimited" ? Infinity : Number(line[1]);
  } catch {
    return Infinity;
  }
}

describe("1,000 idle connections", () => {
  const IDLE = 1000;

  it("fit in this process's open-file limit (both ends of each connection live here)", () => {
    // Fails loudly rather than with EMFILE half-way: raise `ulimit -n` (e.g. in .ci/run).
    expect(openFileLimit()).toBeGreaterThanOrEqual(2 * IDLE + 200);
  });

  it("do not stop new requests from being served", async () => {
    const { port } = await gateway({});
    const idle: Socket[] = [];
    for (let i = 0; i < IDLE; i++) idle.push(await openIdle(port));
    // Half of them stall in the middle of their headers (slowloris), half never say a word.
    for (const socket of idle.slice(0, IDLE / 2)) socket.write("GET / HTTP/1.1\r\nHost: x\r\n");
    for (let i = 0; i < 5; i++) {
      const result = await exchange(port, Buffer.from(`GET /${i} HTTP/1.1\r\nHost: x\r\n\r\n`), {
        expected: 1,
        waitForClose: false,
      });
      expect(result.responses.map((response) => response.status)).toEqual([200]);
    }
    expect(idle.every((socket) => !socket.destroyed)).toBe(true);
  });

  it("are all closed by header_timeout", async () => {
    const { port, server } = await gateway({ header_timeout: 1 });
    const idle: Socket[] = [];
    for (let i = 0; i < IDLE; i++) idle.push(await openIdle(port));
    await Promise.all(idle.map(closed));
    const count = () =>
      new Promise<number>((resolve, reject) =>
        server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
      );
    // The server's side finishes closing a moment after the client's (bounded wait, no timing claim).
    let remaining = await count();
    for (let i = 0; i < 50 && remaining > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      remaining = await count();
    }
    expect(remaining).toBe(0);
  });
});
