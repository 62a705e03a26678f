/**
 * The project's nginx config (nginx/foobar.conf) in front of the gateway, without Docker:
 * Debian's nginx binary runs on loopback with that file, its upstream and listen lines rewritten
 * to the ports used here, as a non-daemon child of the test.
 *
 * In CI (CI=true) a missing nginx is a failure; elsewhere the suite is skipped with the reason.
 */
import { spawn, type ChildProcess, execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "node:http";
import { get as httpsGet } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGatewayServer, DEFAULT_SERVER_SETTINGS } from "../../../gateway/server.js";
import { Logger } from "../../../gateway/log.js";
import type { Application, Environ } from "../../../tsgi/types.js";

const CONFIG = new URL("../../../nginx/foobar.conf", import.meta.url);
const NGINX = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"].find(existsSync);

let nginxProblem: string | null =
  NGINX === undefined ? "no nginx binary (apt-get install nginx)" : null;
if (nginxProblem === null) {
  try {
    execFileSync(NGINX!, ["-v"], { stdio: "ignore" });
  } catch (error) {
    nginxProblem = `${NGINX} -v failed: ${(error as Error).message}`;
  }
}
const skip = nginxProblem !== null && process.env.CI !== "true";
if (skip)
  console.warn(`[nginx integration] SKIPPED: ${nginxProblem}. (With CI=true this is a failure.)`);

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
    let gateway: Server;
    let nginx: ChildProcess | undefined;
    let nginxPort = 0;
    let tlsPort = 0; // a TLS listener, added here only, so that X-Forwarded-Proto has something to say
    let prefix = "";

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
      gateway = createGatewayServer(
        app,
        { ...DEFAULT_SERVER_SETTINGS, forwarded_allow_ips: "127.0.0.1" },
        { log: new Logger(undefined, "error") },
      );
      gateway.on("connection", () => gatewayConnections++);
      await new Promise<void>((resolve) => gateway.listen(0, "127.0.0.1", resolve));
      const gatewayPort = (gateway.address() as AddressInfo).port;
      nginxPort = await freePort();
      tlsPort = await freePort();

      prefix = mkdtempSync(join(tmpdir(), "foobar-nginx-"));
      // Workers may run as nobody (when the test runs as root): they write request bodies here.
      for (const dir of ["body", "proxy"]) chmodSync(mkdirIn(prefix, dir), 0o777);
      chmodSync(prefix, 0o755);
      const site = readFileSync(CONFIG, "utf8")
        .replace("server gateway:8000;", `server 127.0.0.1:${gatewayPort};`)
        .replace(
          "listen 8000 default_server;",
          `listen 127.0.0.1:${nginxPort} default_server;
    listen 127.0.0.1:${tlsPort} ssl;
    ssl_certificate ${join(prefix, "tls.crt")};
    ssl_certificate_key ${join(prefix, "tls.key")};`,
        )
        .replace("/var/log/nginx/access.log", join(prefix, "access.log"));
      expect(site).toContain(`server 127.0.0.1:${gatewayPort};`);
      expect(site).toContain(`listen 127.0.0.1:${nginxPort} default_server;`);
      writeFileSync(join(prefix, "foobar.conf"), site);
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-days",
          "1",
          "-subj",
          "/CN=127.0.0.1",
          "-keyout",
          join(prefix, "tls.key"),
          "-out",
          join(prefix, "tls.crt"),
        ],
        { stdio: "ignore" },
      );
      writeFileSync(
        join(prefix, "nginx.conf"),
        `daemon off;
worker_processes 1;
pid ${join(prefix, "nginx.pid")};
error_log ${join(prefix, "error.log")} warn;
events { worker_connections 64; }
http {
    client_body_temp_path ${join(prefix, "body")};
    proxy_temp_path ${join(prefix, "proxy")};
    fastcgi_temp_path ${join(prefix, "body")};
    uwsgi_temp_path ${join(prefix, "body")};
    scgi_temp_path ${join(prefix, "body")};
    include ${join(prefix, "foobar.conf")};
}
`,
      );
      nginx = spawn(
        NGINX!,
        ["-p", prefix, "-e", join(prefix, "error.log"), "-c", join(prefix, "nginx.conf")],
        {
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      let stderr = "";
      nginx.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const deadline = Date.now() + 15_000;
      while (!(await accepts(nginxPort))) {
        if (nginx.exitCode !== null || Date.now() > deadline)
          throw new Error(
            `nginx did not start: ${stderr}${readIfExists(join(prefix, "error.log"))}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });

    afterAll(async () => {
      if (nginx !== undefined && nginx.exitCode === null) {
        const exited = new Promise((resolve) => nginx!.once("exit", resolve));
        nginx.kill("SIGTERM");
        await exited;
      }
      await new Promise((resolve) => gateway?.close(resolve));
      if (prefix !== "") rmSync(prefix, { recursive: true, force: true });
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
      const log = readFileSync(join(prefix, "access.log"), "utf8");
      expect(log).toMatch(
        /"GET \/hello HTTP\/1\.1" 200 .* upstream=127\.0\.0\.1:\d+ upstream_time=/,
      );
    });
  },
);

function mkdirIn(parent: string, name: string): string {
  const dir = join(parent, name);
  mkdirSync(dir);
  return dir;
}

function readIfExists(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

async function accepts(port: number): Promise<boolean> {
  try {
    (await openSocket(port)).destroy();
    return true;
  } catch {
    return false;
  }
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
