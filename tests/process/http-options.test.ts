/**
 * HTTP settings seen from outside a running gateway: request limits (the worker answers 414/431
 * and keeps serving) and --forwarded-allow-ips (X-Forwarded-For counts only from trusted peers).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { APPS, GatewayProcess, get, waitUntil } from "./gateway-process.js";

// Real processes on a shared 2-core machine: booting one can take seconds under load. The
// assertions are about behaviour; this only keeps a slow run from being cut off.
vi.setConfig({ testTimeout: 90_000 });

const scratch = mkdtempSync(join(tmpdir(), "gateway-http-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const started: GatewayProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.kill()));
});

/** Sends raw bytes and returns the status code of the answer. */
function rawStatus(port: number, head: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(head));
    let answer = "";
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1");
      const match = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      if (match) {
        socket.destroy();
        resolve(Number(match[1]));
      }
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error(`closed without an answer: ${answer}`)));
  });
}

describe("request limits", () => {
  it("answers 414 and 431 over the limits, and the worker keeps serving", async () => {
    const server = new GatewayProcess([
      "-b",
      "127.0.0.1:0",
      "--limit-request-line",
      "200",
      "--limit-request-fields",
      "10",
      "--limit-request-field-size",
      "300",
      `${APPS}/slow.js`,
    ]);
    started.push(server);
    await server.ready(1);
    const before = (await get(server.port, "/")).body;
    const host = "Host: x\r\n";
    expect(await rawStatus(server.port, `GET /${"a".repeat(300)} HTTP/1.1\r\n${host}\r\n`)).toBe(
      414,
    );
    const fields = Array.from({ length: 11 }, (_, i) => `X-F${i}: v\r\n`).join("");
    expect(await rawStatus(server.port, `GET / HTTP/1.1\r\n${host}${fields}\r\n`)).toBe(431);
    expect(
      await rawStatus(server.port, `GET / HTTP/1.1\r\n${host}X-Big: ${"b".repeat(400)}\r\n\r\n`),
    ).toBe(431);
    expect(await rawStatus(server.port, `GET / HTTP/1.1\r\n${host}\r\n`)).toBe(200);
    expect((await get(server.port, "/")).body).toBe(before); // the same worker, still serving
  });
});

describe("--forwarded-allow-ips", () => {
  async function remoteAddressLogged(allow: string[]): Promise<string> {
    const access = join(scratch, `access-${allow.length}.log`);
    const server = new GatewayProcess([
      "-b",
      "127.0.0.1:0",
      "--access-logfile",
      access,
      "--access-logformat",
      "%(h)s",
      ...allow,
      `${APPS}/slow.js`,
    ]);
    started.push(server);
    await server.ready(1);
    expect(
      await rawStatus(
        server.port,
        "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n",
      ),
    ).toBe(200);
    let line = "";
    await waitUntil(() => {
      try {
        line = readFileSync(access, "utf8").trim();
      } catch {
        return false;
      }
      return line !== "";
    });
    return line;
  }

  it("believes X-Forwarded-For from a trusted peer (loopback by default)", async () => {
    expect(await remoteAddressLogged([])).toBe("203.0.113.7");
  });

  it("ignores it from a peer that is not trusted", async () => {
    expect(await remoteAddressLogged(["--forwarded-allow-ips", "10.0.0.1"])).toBe("127.0.0.1");
  });
});
