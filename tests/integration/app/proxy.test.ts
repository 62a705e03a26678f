/**
 * The proxy against real upstream servers on loopback, served by the real gateway: round-robin,
 * passive health when an upstream stops, 504 for a hung upstream, streaming both ways, headers.
 */
import {
  get as httpGet,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { proxy, type ProxyApplication } from "../../../app/proxy.js";
import { urlMap } from "../../../app/routing.js";
import { validate } from "../../../tsgi/validate.js";
import { listen, startGateway, type Listening } from "../../helpers/gateway.js";

const running: Listening[] = [];
const proxies: ProxyApplication[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
  await Promise.all(proxies.splice(0).map((app) => app.close()));
});
afterAll(async () => {
  await Promise.all(running.map((server) => server.close()));
});

/** An upstream that answers with its name and what it received. */
async function upstream(name: string): Promise<Listening> {
  const server = await listen((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      response.writeHead(200, {
        "Content-Type": "application/json",
        "X-Upstream": name,
        "X-Hop": "secret",
        Connection: "X-Hop",
      });
      response.end(
        JSON.stringify({ name, url: request.url, headers: request.headers, length: body.length }),
      );
    });
  });
  running.push(server);
  return server;
}

async function gatewayWith(app: ProxyApplication): Promise<string> {
  proxies.push(app);
  // Validated on its server side: the real gateway calls it through the TSGI validator.
  const gateway = await startGateway(validate(urlMap({ "/proxy": validate(app) })));
  running.push(gateway);
  return gateway.url + "/proxy";
}

interface Echo {
  name: string;
  url: string;
  headers: Record<string, string>;
  length: number;
}

async function get(url: string): Promise<{ status: number; echo: Echo; response: Response }> {
  const response = await fetch(url);
  const text = await response.text();
  return { status: response.status, echo: JSON.parse(text) as Echo, response };
}

describe("proxy", () => {
  it("spreads requests round-robin across its upstreams", async () => {
    const ups = await Promise.all(["a", "b", "c"].map(upstream));
    const base = await gatewayWith(proxy({ upstreams: ups.map((u) => u.url) }));
    const counts: Record<string, number> = {};
    for (let i = 0; i < 30; i++) {
      const { status, echo } = await get(base + "/");
      expect(status).toBe(200);
      counts[echo.name] = (counts[echo.name] ?? 0) + 1;
    }
    expect(counts).toEqual({ a: 10, b: 10, c: 10 });
  });

  it.each([0, 1, 2])(
    "shares the traffic evenly among the healthy upstreams when upstream %i is down",
    async (downIndex) => {
      const ups = await Promise.all(["a", "b", "c"].map(upstream));
      const app = proxy({ upstreams: ups.map((u) => u.url), retryAfter: 60_000 });
      const base = await gatewayWith(app);
      await ups[downIndex]!.close();
      // Until a request finds it dead, the stopped upstream still has its turns.
      for (let i = 0; i < 3; i++) expect((await get(base + "/")).status).toBe(200);
      expect(app.health()[downIndex]!.healthy).toBe(false);
      const counts: Record<string, number> = {};
      for (let i = 0; i < 12; i++) {
        const { status, echo } = await get(base + "/");
        expect(status).toBe(200);
        counts[echo.name] = (counts[echo.name] ?? 0) + 1;
      }
      const alive = ["a", "b", "c"].filter((_, index) => index !== downIndex);
      expect(counts).toEqual({ [alive[0]!]: 6, [alive[1]!]: 6 });
    },
  );

  it("skips a down upstream until retryAfter has passed, then tries it once more", async () => {
    const dead = await upstream("dead");
    const deadUrl = dead.url;
    await dead.close();
    const alive = await upstream("alive");
    // Only Date is faked: the proxy's health clock moves when the test says, undici's timers and
    // the sockets keep real time.
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const app = proxy({ upstreams: [deadUrl, alive.url], retryAfter: 5000 });
      const base = await gatewayWith(app);
      const attempts = () => app.health()[0]!.failures; // each try at the dead one fails once
      for (let i = 0; i < 6; i++) expect((await get(base + "/")).echo.name).toBe("alive");
      // Its turn came three times; only the first found it dead, the other two skipped it.
      expect(attempts()).toBe(1);
      vi.advanceTimersByTime(4999);
      for (let i = 0; i < 4; i++) expect((await get(base + "/")).status).toBe(200);
      expect(attempts()).toBe(1);
      vi.advanceTimersByTime(1);
      expect(app.health()[0]!.healthy).toBe(true);
      for (let i = 0; i < 4; i++) expect((await get(base + "/")).echo.name).toBe("alive");
      // Due again, tried again on its first turn, found dead, and skipped for 5 s more.
      expect(attempts()).toBe(2);
      expect(app.health()[1]!.served).toBe(14);
    } finally {
      vi.useRealTimers();
    }
  });

  it("keeps every request succeeding when an upstream stops mid-test", async () => {
    const ups = await Promise.all(["a", "b", "c"].map(upstream));
    const app = proxy({ upstreams: ups.map((u) => u.url), retryAfter: 60_000 });
    const base = await gatewayWith(app);
    for (let i = 0; i < 9; i++) expect((await get(base + "/")).status).toBe(200);
    await ups[1]!.close();
    const after: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { status, echo } = await get(base + "/");
      expect(status).toBe(200);
      after.push(echo.name);
    }
    expect(after).not.toContain("b");
    expect(new Set(after)).toEqual(new Set(["a", "c"]));
    const health = app.health();
    expect(health.map((h) => h.healthy)).toEqual([true, false, true]);
    expect(health[1]!.failures).toBeGreaterThan(0);
    expect(health[1]!.lastError).toMatch(/ECONNREFUSED|UND_ERR_SOCKET|ECONNRESET|closed/);
  });

  it("retries a POST whose connection was refused on the next upstream, body intact", async () => {
    const dead = await upstream("dead");
    const deadUrl = dead.url;
    await dead.close();
    const alive = await upstream("alive");
    const app = proxy({ upstreams: [deadUrl, alive.url] });
    const base = await gatewayWith(app);
    const body = new Uint8Array(200_000).fill(7);
    const response = await fetch(base + "/post", { method: "POST", body });
    const echo = (await response.json()) as Echo;
    expect(echo).toMatchObject({ name: "alive", length: body.length });
    expect(app.health()[0]).toMatchObject({ healthy: false, failures: 1 });
  });

  it("keeps concurrent requests succeeding while an upstream stops", async () => {
    const ups = await Promise.all(["a", "b"].map(upstream));
    const base = await gatewayWith(proxy({ upstreams: ups.map((u) => u.url) }));
    const wave = () => Promise.all(Array.from({ length: 10 }, () => get(base + "/")));
    const first = wave();
    const stopping = ups[0]!.close();
    const statuses = [...(await first), ...(await wave())].map((answer) => answer.status);
    await stopping;
    statuses.push(...(await wave()).map((answer) => answer.status));
    expect(statuses).toEqual(Array<number>(30).fill(200));
  });

  it("answers 502 when no upstream can be reached", async () => {
    const dead = await upstream("dead");
    const url = dead.url;
    await dead.close();
    const base = await gatewayWith(proxy({ upstreams: [url] }));
    const response = await fetch(base + "/");
    expect(response.status).toBe(502);
    expect(await response.text()).toContain("no upstream server could be reached");
  });

  it("answers 504 when an upstream hangs past the read timeout", async () => {
    const hung = await listen(() => {
      // Never answers.
    });
    running.push(hung);
    const base = await gatewayWith(proxy({ upstreams: [hung.url], readTimeout: 500 }));
    const started = Date.now();
    const response = await fetch(base + "/slow");
    expect(response.status).toBe(504);
    // Bounded, not a speed target: well under the 30 s default, so the timeout is what fired.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("maps the path below its mount, under the upstream's base path", async () => {
    const up = await upstream("a");
    const base = await gatewayWith(proxy({ upstreams: [up.url + "/base/"] }));
    const { echo } = await get(base + "/x/y%20z?q=1&r=%2F");
    expect(echo.url).toBe("/base/x/y%20z?q=1&r=%2F");
  });

  it("streams a large request body to the upstream and its answer back", async () => {
    const up = await upstream("a");
    const base = await gatewayWith(proxy({ upstreams: [up.url] }));
    const body = new Uint8Array(3 * 1024 * 1024).fill(120);
    const response = await fetch(base + "/upload", { method: "POST", body });
    const echo = (await response.json()) as Echo;
    expect(echo.length).toBe(body.length);
    expect(echo.headers["content-length"]).toBe(String(body.length));
  });

  it("strips hop-by-hop headers both ways and appends X-Forwarded-*", async () => {
    const up = await upstream("a");
    const base = await gatewayWith(proxy({ upstreams: [up.url] }));
    // node:http, because fetch refuses to send a Connection header.
    const { headers, body } = await new Promise<{ headers: IncomingHttpHeaders; body: string }>(
      (resolve, reject) => {
        const request = httpGet(
          base + "/",
          {
            headers: {
              "X-Forwarded-For": "203.0.113.9",
              "X-Private": "p",
              Connection: "X-Private",
            },
          },
          (response) => {
            let text = "";
            response.setEncoding("utf8");
            response.on("data", (chunk: string) => (text += chunk));
            response.on("end", () => resolve({ headers: response.headers, body: text }));
          },
        );
        request.on("error", reject);
      },
    );
    const echo = JSON.parse(body) as Echo;
    expect(echo.headers["x-forwarded-for"]).toBe("203.0.113.9, 127.0.0.1");
    expect(echo.headers["x-forwarded-proto"]).toBe("http");
    expect(echo.headers["x-forwarded-host"]).toBe(new URL(base).host);
    expect(echo.headers["x-private"]).toBeUndefined();
    expect(headers["x-upstream"]).toBe("a");
    expect(headers["x-hop"]).toBeUndefined();
  });
});
