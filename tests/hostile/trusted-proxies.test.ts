/**
 * X-Forwarded-For / X-Forwarded-Proto: believed from a trusted peer (default: 127.0.0.1 and ::1),
 * ignored from anyone else. The untrusted peer is 127.0.0.2 — still loopback, not in the list.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Application } from "../../tsgi/types.js";
import { startGateway, type RunningGateway } from "../helpers/gateway.js";
import { nginxProblem, startNginx, type RunningNginx } from "../helpers/nginx.js";
import { shouldRun } from "../helpers/skips.js";
import { exchange } from "./raw-http.js";

interface Seen {
  remote: string;
  scheme: string;
  peer: string | null;
}

const whoAmI: Application = (environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "application/json"]]);
  const seen: Seen = {
    remote: String(environ.REMOTE_ADDR),
    scheme: environ["tsgi.url_scheme"],
    peer: (environ["gateway.peer_addr"] as string | undefined) ?? null,
  };
  return [Buffer.from(JSON.stringify(seen))];
};

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway(whoAmI);
});
afterAll(() => gateway.close());

const SPOOF = "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n";

async function ask(port: number, headers: string, localAddress: string) {
  const request = `GET / HTTP/1.1\r\nHost: x\r\n${headers}\r\n`;
  const result = await exchange(port, Buffer.from(request), {
    expected: 1,
    waitForClose: false,
    localAddress,
  });
  const response = result.responses[0]!;
  return {
    status: response.status,
    seen: response.status === 200 ? (JSON.parse(response.body.toString()) as Seen) : null,
  };
}

describe("directly", () => {
  it("an untrusted peer's X-Forwarded-* change nothing", async () => {
    const { seen } = await ask(gateway.port, SPOOF, "127.0.0.2");
    expect(seen).toEqual({ remote: "127.0.0.2", scheme: "http", peer: null });
  });

  it("a trusted peer's X-Forwarded-* set the client address and the scheme", async () => {
    const { seen } = await ask(gateway.port, SPOOF, "127.0.0.1");
    expect(seen).toEqual({ remote: "6.6.6.6", scheme: "https", peer: "127.0.0.1" });
  });

  it("a trusted peer's chain: the right-most untrusted hop is the client", async () => {
    const chain = "X-Forwarded-For: 6.6.6.6, 203.0.113.9, 127.0.0.1\r\n";
    const { seen } = await ask(gateway.port, chain, "127.0.0.1");
    expect(seen?.remote).toBe("203.0.113.9");
  });

  it("a trusted peer's garbage is a 400, not a guess", async () => {
    expect((await ask(gateway.port, "X-Forwarded-Proto: gopher\r\n", "127.0.0.1")).status).toBe(
      400,
    );
    expect((await ask(gateway.port, "X-Forwarded-For: not-an-ip\r\n", "127.0.0.1")).status).toBe(
      400,
    );
  });

  it("underscore spellings cannot smuggle the header past the check", async () => {
    const { seen } = await ask(gateway.port, "X_Forwarded_For: 6.6.6.6\r\n", "127.0.0.2");
    expect(seen?.remote).toBe("127.0.0.2");
  });
});

describe.runIf(shouldRun("trusted proxies, through nginx", nginxProblem()))("through nginx", () => {
  let proxy: RunningNginx;
  beforeAll(async () => {
    proxy = await startNginx({ upstreamPort: gateway.port });
  });
  afterAll(() => proxy.stop());

  it("a client's forged X-Forwarded-For does not hide its address", async () => {
    const { seen } = await ask(proxy.port, SPOOF, "127.0.0.2");
    // nginx appends the real peer (127.0.0.2) and sets the scheme it saw (http).
    expect(seen).toEqual({ remote: "127.0.0.2", scheme: "http", peer: "127.0.0.1" });
  });
});
