/**
 * nginx/edge.conf through Debian's nginx with the project's config (tests/helpers/nginx.ts): the
 * security headers on every response, nginx's own error pages included, unless the app sent its
 * own; and the limits per client address, with 429 and a short page for the excess. The limits
 * are tried with the shipped file's numbers made tiny; with the shipped numbers, a burst from
 * one address goes through. Clients at 127.0.0.2 count as a remote address (127.0.0.1 is this
 * machine, which the limits leave alone).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Application } from "../../../tsgi/types.js";
import { startGateway, type RunningGateway } from "../../helpers/gateway.js";
import { nginxProblem, startNginx, type RunningNginx } from "../../helpers/nginx.js";
import { shouldRun } from "../../helpers/python.js";
import { exchange } from "../../hostile/raw-http.js";

const EDGE = readFileSync(new URL("../../../nginx/edge.conf", import.meta.url), "utf8");
const SHIPPED = { rate: "10000r/s", burst: "20000", connections: "1024" };

/** edge.conf with other limits, in nginx's directory, included in its http block. */
function edgeWith(limits: Partial<typeof SHIPPED> = {}) {
  const { rate, burst, connections } = { ...SHIPPED, ...limits };
  const config = EDGE.replace(`rate=${SHIPPED.rate}`, `rate=${rate}`)
    .replace(`burst=${SHIPPED.burst}`, `burst=${burst}`)
    .replace(`edge_connections ${SHIPPED.connections};`, `edge_connections ${connections};`);
  return (dir: string) => {
    writeFileSync(join(dir, "edge.conf"), config);
    return `include ${join(dir, "edge.conf")};`;
  };
}

/** Releases every request held at /hold. */
let release: () => void = () => {};
let held = new Promise<void>((resolve) => (release = resolve));
/** Called when a request arrives at /hold. */
let arrived: () => void = () => {};

const app: Application = async (environ, startResponse) => {
  const path = environ.PATH_INFO;
  if (path === "/hold") {
    arrived();
    await held;
  }
  if (path === "/broken") throw new Error("broken on purpose");
  if (path === "/own-policy") {
    startResponse("200 OK", [
      ["Content-Type", "text/plain"],
      ["Referrer-Policy", "no-referrer"],
      ["Content-Security-Policy", "default-src 'self'"],
    ]);
    return [Buffer.from("own\n")];
  }
  const found = path === "/" || path === "/hold";
  startResponse(found ? "200 OK" : "404 Not Found", [["Content-Type", "text/plain"]]);
  return [Buffer.from(found ? "ok\n" : "not here\n")];
};

interface Answer {
  status: number;
  headers: Map<string, string[]>;
  body: string;
}

async function send(port: number, request: string, localAddress = "127.0.0.1"): Promise<Answer> {
  const result = await exchange(port, Buffer.from(request, "latin1"), {
    expected: 1,
    waitForClose: false,
    localAddress,
  });
  const response = result.responses[0];
  if (response === undefined) throw new Error(`no answer to ${JSON.stringify(request)}`);
  const headers = new Map<string, string[]>();
  for (const [name, value] of response.headers)
    headers.set(name.toLowerCase(), [...(headers.get(name.toLowerCase()) ?? []), value]);
  return { status: response.status, headers, body: response.body.toString() };
}

const get = (port: number, path: string, localAddress?: string) =>
  send(port, `GET ${path} HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n`, localAddress);

describe.runIf(shouldRun("nginx edge rules", nginxProblem()))("nginx/edge.conf", () => {
  let gateway: RunningGateway;
  const proxies: RunningNginx[] = [];
  const nginxWith = async (limits?: Partial<typeof SHIPPED>) => {
    const proxy = await startNginx({
      upstreamPort: gateway.port,
      httpDirectives: edgeWith(limits),
    });
    proxies.push(proxy);
    return proxy;
  };

  beforeAll(async () => {
    gateway = await startGateway(app);
  });
  afterAll(async () => {
    release();
    await Promise.all(proxies.map((proxy) => proxy.stop()));
    await gateway?.close();
  });

  describe("security headers", () => {
    let port: number;
    beforeAll(async () => {
      port = (await nginxWith()).port;
    });

    const EDGE_HEADERS = {
      "x-content-type-options": ["nosniff"],
      "referrer-policy": ["strict-origin-when-cross-origin"],
      "x-frame-options": ["DENY"],
      "content-security-policy": ["frame-ancestors 'none'"],
    };
    const edgeHeadersOf = (answer: Answer) =>
      Object.fromEntries(Object.keys(EDGE_HEADERS).map((name) => [name, answer.headers.get(name)]));

    it.each([
      ["the app's page", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200],
      ["the app's 404", "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", 404],
      ["the gateway's 500 for a broken app", "GET /broken HTTP/1.1\r\nHost: x\r\n\r\n", 500],
      ["nginx's own health answer", "GET /nginx-health HTTP/1.1\r\nHost: x\r\n\r\n", 200],
      ["nginx's 502 (no upstream at /wsgi/)", "GET /wsgi/ HTTP/1.1\r\nHost: x\r\n\r\n", 502],
      ["nginx's 400 (a bad request line)", "GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n", 400],
      [
        "nginx's 413 (a body over client_max_body_size)",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n",
        413,
      ],
    ])("are on %s", async (_what, request, status) => {
      const answer = await send(port, request);
      expect(answer.status).toBe(status);
      expect(edgeHeadersOf(answer)).toEqual(EDGE_HEADERS);
    });

    it("leave an app's own policy as it is, and add the ones it did not send", async () => {
      const answer = await get(port, "/own-policy");
      expect(edgeHeadersOf(answer)).toEqual({
        ...EDGE_HEADERS,
        "referrer-policy": ["no-referrer"],
        "content-security-policy": ["default-src 'self'"],
      });
    });
  });

  describe("limits per client address", () => {
    it("with the shipped limits, 300 requests from one address, 50 at a time, all pass", async () => {
      const { port } = await nginxWith();
      const statuses = new Set<number>();
      // 50 at once: each takes two of the test nginx's 256 worker connections.
      for (let batch = 0; batch < 6; batch++)
        for (const answer of await Promise.all(
          Array.from({ length: 50 }, () => get(port, "/", "127.0.0.2")),
        ))
          statuses.add(answer.status);
      expect(statuses).toEqual(new Set([200]));
    });

    it("answers requests over the rate with 429 and a short page, per address", async () => {
      // 1 a minute with a burst of 2: exactly 3 pass, whatever the machine's speed.
      const { port, output } = await nginxWith({ rate: "1r/m", burst: "2" });
      const statuses: number[] = [];
      let refused: Answer | undefined;
      for (let i = 0; i < 5; i++) {
        const answer = await get(port, "/", "127.0.0.2");
        statuses.push(answer.status);
        if (answer.status === 429) refused = answer;
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect(refused!.body).toContain("429 Too Many Requests");
      expect(refused!.body.length).toBeLessThan(400);
      expect(refused!.headers.get("x-content-type-options")).toEqual(["nosniff"]);
      // Another address has its own count; this machine's own address is not counted.
      expect((await get(port, "/", "127.0.0.3")).status).toBe(200);
      for (let i = 0; i < 5; i++) expect((await get(port, "/")).status).toBe(200);
      expect(output()).toMatch(
        /limiting requests, excess: .* by zone "edge_requests", client: 127\.0\.0\.2/,
      );
    });

    it("answers a connection over the limit with 429 while the address's others are busy", async () => {
      const { port } = await nginxWith({ connections: "1" });
      held = new Promise<void>((resolve) => (release = resolve));
      const atApp = new Promise<void>((resolve) => (arrived = resolve));
      const first = get(port, "/hold", "127.0.0.2");
      await atApp; // the first request is in progress: nginx counts its connection
      const second = await get(port, "/", "127.0.0.2");
      expect(second.status).toBe(429);
      expect(second.body).toContain("429 Too Many Requests");
      // The address's connection limit does not touch this machine's own connections.
      expect((await get(port, "/")).status).toBe(200);
      release();
      expect((await first).status).toBe(200);
      expect((await get(port, "/", "127.0.0.2")).status).toBe(200);
    });
  });
});
