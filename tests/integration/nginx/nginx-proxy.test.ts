/**
 * The project's nginx config (nginx/foobar.conf) in front of the gateway, without Docker:
 * Debian's nginx binary runs on loopback with that file, its upstream and listen lines rewritten
 * to the ports used here, as a non-daemon child of the test.
 *
 * In CI (CI=true) a missing nginx is a failure; elsewhere the suite is skipped with the reason.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { get as httpsGet } from "node:https";
import { connect as http2Connect } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Application, Environ } from "../../../tsgi/types.js";
import { startGateway, type RunningGateway } from "../../helpers/gateway.js";
import { freePort } from "../../helpers/net.js";
import {
  nginxProblem as findNginxProblem,
  startNginx,
  type RunningNginx,
} from "../../helpers/nginx.js";
import { shouldRun } from "../../helpers/skips.js";

const nginxProblem = findNginxProblem();
const skip = !shouldRun("nginx integration", nginxProblem);

/** What the app saw of each request: the environ's strings and the body length. */
interface Seen {
  environ: Record<string, string>;
  bodyBytes: number;
}

describe.skipIf(skip)(
  "nginx/foobar.conf in front of the gateway (Debian's nginx, loopback)",
  () => {
    const seen: Seen[] = [];
    let gatewayConnections = 0;
    let appCalls = 0; // counted on entry, before the body is read
    let gateway: RunningGateway | undefined;
    let nginx: RunningNginx | undefined;
    let nginxPort = 0;
    let tlsPort = 0; // a TLS listener, added here only, so that X-Forwarded-Proto has something to say

    const app: Application = async (environ: Environ, startResponse) => {
      appCalls++;
      let bodyBytes = 0;
      for await (const chunk of environ["tsgi.input"]) bodyBytes += chunk.length;
      const strings = Object.entries(environ).filter(
        (entry): entry is [string, string] => typeof entry[1] === "string",
      );
      seen.push({ environ: Object.fromEntries(strings), bodyBytes });
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return [new TextEncoder().encode(`got ${bodyBytes} bytes`)];
    };

    beforeAll(async () => {
      if (nginxProblem !== null) throw new Error(nginxProblem);
      gateway = await startGateway(app, { forwarded_allow_ips: "127.0.0.1" });
      gateway.server.on("connection", () => gatewayConnections++);
      const gatewayPort = gateway.port;
      tlsPort = await freePort();
      nginx = await startNginx({
        upstreamPort: gatewayPort,
        tlsPort,
      });
      nginxPort = nginx.port;
      const site = readFileSync(join(nginx.dir, "foobar.conf"), "utf8");
      expect(site).toContain(`server 127.0.0.1:${gatewayPort} max_fails=0;`);
      expect(site).toContain(`listen 127.0.0.1:${nginxPort} default_server;`);
    });

    afterAll(async () => {
      await nginx?.stop();
      await gateway?.close();
    });

    const url = (path: string) => `http://127.0.0.1:${nginxPort}${path}`;

    it("proxies to the gateway and hides its own version", async () => {
      const response = await fetch(url("/hello"));
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("got 0 bytes");
      expect(response.headers.get("server")).toBe("nginx");
      expect(seen.at(-1)!.environ.PATH_INFO).toBe("/hello");
    });

    it("forwards the client's address, scheme and host; the gateway trusts them from nginx", async () => {
      await fetch(url("/who"), {
        headers: { "X-Forwarded-For": "203.0.113.66", "X-Forwarded-Proto": "https" },
      });
      const { environ } = seen.at(-1)!;
      // nginx overwrote the forged headers with what it knows.
      expect(environ.HTTP_X_FORWARDED_FOR).toBe("127.0.0.1");
      expect(environ.HTTP_X_FORWARDED_PROTO).toBe("http");
      expect(environ.HTTP_X_FORWARDED_HOST).toBe("127.0.0.1");
      expect(environ.HTTP_HOST).toBe(`127.0.0.1:${nginxPort}`);
      expect(environ.REMOTE_ADDR).toBe("127.0.0.1");
      expect(environ["gateway.peer_addr"]).toBe("127.0.0.1");
      expect(environ["tsgi.url_scheme"]).toBe("http");
    });

    it("forwards the scheme: a client on TLS makes the app's url_scheme https", async () => {
      const status = await new Promise<number | undefined>((resolve, reject) =>
        httpsGet(
          { host: "127.0.0.1", port: tlsPort, path: "/secure", rejectUnauthorized: false },
          (response) => response.resume().on("end", () => resolve(response.statusCode)),
        ).on("error", reject),
      );
      expect(status).toBe(200);
      const { environ } = seen.at(-1)!;
      expect(environ.PATH_INFO).toBe("/secure");
      expect(environ.HTTP_X_FORWARDED_PROTO).toBe("https");
      expect(environ["tsgi.url_scheme"]).toBe("https");
    });

    it("speaks HTTP/2 on its TLS listener, with the project's TLS settings", async () => {
      const session = http2Connect(`https://127.0.0.1:${tlsPort}`, { rejectUnauthorized: false });
      try {
        const status = await new Promise<number>((resolve, reject) => {
          const stream = session.request({ ":path": "/h2" });
          stream.on("response", (headers) => resolve(Number(headers[":status"])));
          stream.on("error", reject);
          stream.resume();
        });
        expect(status).toBe(200);
      } finally {
        session.close();
      }
      expect(seen.at(-1)!.environ.PATH_INFO).toBe("/h2");
      expect(seen.at(-1)!.environ["tsgi.url_scheme"]).toBe("https");
    });

    it("refuses a TLS 1.1 handshake and accepts TLS 1.2 and 1.3", () => {
      // SECLEVEL=0 lets the client offer TLS 1.1 at all (OpenSSL 3 refuses to by default), so
      // what refuses it is the server.
      const handshake = (version: string) =>
        spawnSync(
          "openssl",
          [
            ...["s_client", "-connect", `127.0.0.1:${tlsPort}`, `-${version}`],
            ...(version === "tls1_1" ? ["-cipher", "DEFAULT@SECLEVEL=0"] : []),
          ],
          { input: "", encoding: "utf8", timeout: 10_000 },
        );
      const old = handshake("tls1_1");
      expect(old.status).not.toBe(0);
      expect(old.stdout + old.stderr).toMatch(/alert protocol version|unsupported protocol/i);
      for (const [version, name] of [
        ["tls1_2", "TLSv1.2"],
        ["tls1_3", "TLSv1.3"],
      ] as const) {
        const ok = handshake(version);
        // OpenSSL prints "New, TLSv1.3, Cipher is …"; its session summary, where shown, "Protocol : …".
        expect(ok.stdout).toMatch(new RegExp(`New, ${name}|Protocol\\s+: ${name}`));
      }
    });

    it("keeps upstream connections alive across requests", async () => {
      const before = gatewayConnections;
      for (let i = 0; i < 5; i++) await (await fetch(url(`/again/${i}`))).text();
      // One nginx worker reuses its idle connection: at most one new connection for five requests.
      expect(gatewayConnections - before).toBeLessThanOrEqual(1);
    });

    it("buffers the request body: the gateway sees nothing until the client has sent all of it", async () => {
      const calls = appCalls;
      const socket = await openSocket(nginxPort);
      const body = "x".repeat(2000);
      socket.write(
        `POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      );
      socket.write(body.slice(0, 1000));
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(appCalls).toBe(calls); // a non-buffering proxy would have passed the request on
      const reply = readAll(socket);
      socket.write(body.slice(1000));
      expect(await reply).toContain("got 2000 bytes");
      expect(seen.at(-1)!.bodyBytes).toBe(2000);
    });

    it("refuses bodies over the size limit itself (413), without bothering the gateway", async () => {
      const calls = appCalls;
      const response = await fetch(url("/big"), {
        method: "POST",
        body: new Uint8Array(11 * 1024 * 1024),
      });
      expect(response.status).toBe(413);
      expect(await response.text()).not.toMatch(/nginx\/\d/);
      expect(appCalls).toBe(calls);
    });

    it("answers its own health check", async () => {
      const response = await fetch(url("/nginx-health"));
      expect(await response.text()).toBe("ok\n");
    });

    it("logs each request with the upstream that served it", () => {
      const log = readFileSync(nginx!.accessLog, "utf8");
      expect(log).toMatch(
        /"GET \/hello HTTP\/1\.1" 200 .* upstream=127\.0\.0\.1:\d+ upstream_time=/,
      );
    });
  },
);

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

function readAll(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}
