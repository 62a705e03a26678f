/**
 * A broken application must not hurt its clients: malformed statuses and headers are refused
 * (500, never sent), a body that disagrees with its Content-Length is cut or the connection
 * closed, and errors reach the log — never the client.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Application, HeaderList, Status } from "../../tsgi/types.js";
import { startGateway, type RunningGateway } from "./gateway-fixture.js";
import { exchange, LEAK_PATTERNS } from "./raw-http.js";

const text = (value: string) => Buffer.from(value, "latin1");

/** Each path is one way to break the contract. */
const brokenApp: Application = (environ, startResponse) => {
  const respond = (status: string, headers: HeaderList, body = "ok") => {
    startResponse(status as Status, headers); // deliberately unchecked: the app is broken
    return [text(body)];
  };
  switch (environ.PATH_INFO) {
    case "/crlf-in-value":
      return respond("200 OK", [["X-Evil", "a\r\nSet-Cookie: stolen=1"]]);
    case "/lf-in-value":
      return respond("200 OK", [["X-Evil", "a\nSet-Cookie: stolen=1"]]);
    case "/nul-in-value":
      return respond("200 OK", [["X-Evil", "a\0b"]]);
    case "/not-latin1":
      return respond("200 OK", [["X-Price", "10 \u20ac"]]);
    case "/bad-name":
      return respond("200 OK", [["X Evil", "a"]]);
    case "/hop-by-hop":
      return respond("200 OK", [["Transfer-Encoding", "chunked"]]);
    case "/connection-header":
      return respond("200 OK", [["Connection", "close"]]);
    case "/status-no-reason":
      return respond("200", []);
    case "/status-crlf":
      return respond("200 OK\r\nSet-Cookie: stolen=1", []);
    case "/status-four-digits":
      return respond("2000 OK", []);
    case "/body-shorter":
      return respond("200 OK", [["Content-Length", "10"]], "abc");
    case "/body-longer":
      return respond("200 OK", [["Content-Length", "3"]], "abcdefghij");
    case "/throws":
      throw new Error("database password rejected at /srv/app/secret.ts:12:3");
    default:
      return respond("200 OK", [["Content-Type", "text/plain"]]);
  }
};

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway(brokenApp);
});
afterAll(() => gateway.close());

async function get(path: string) {
  const logged = gateway.log.lines.length;
  const result = await exchange(gateway.port, text(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`), {
    expected: 1,
    waitForClose: false,
    timeoutMs: 3000,
  });
  return { ...result, log: gateway.log.lines.slice(logged).join("\n") };
}

async function stillServes(): Promise<void> {
  const after = await get("/fine");
  expect(after.responses.map((response) => response.status)).toEqual([200]);
}

describe("a broken app's response is refused, never sent malformed", () => {
  const cases: [path: string, rule: RegExp][] = [
    ["/crlf-in-value", /contains CR, LF, NUL/],
    ["/lf-in-value", /contains CR, LF, NUL/],
    ["/nul-in-value", /contains CR, LF, NUL/],
    ["/not-latin1", /not Latin-1/],
    ["/bad-name", /not an HTTP token/],
    ["/hop-by-hop", /hop-by-hop/],
    ["/connection-header", /hop-by-hop/],
    ["/status-no-reason", /three digits, a space and a reason/],
    ["/status-crlf", /three digits, a space and a reason/],
    ["/status-four-digits", /three digits, a space and a reason/],
  ];
  for (const [path, rule] of cases) {
    it(`${path}: 500, logged with the rule broken`, async () => {
      const result = await get(path);
      expect(result.responses.map((response) => response.status)).toEqual([500]);
      const wire = result.responses[0]!;
      expect(wire.header("set-cookie")).toBeUndefined();
      expect(wire.header("x-evil")).toBeUndefined();
      expect(wire.body.toString("latin1")).toBe("Internal Server Error\n");
      expect(result.garbage.length).toBe(0);
      expect(result.log).toMatch(/\[ERROR\] GET .*TSGI contract violation/);
      expect(result.log).toMatch(rule);
      await stillServes();
    });
  }
});

describe("a body that disagrees with its Content-Length", () => {
  it("shorter: the connection is closed, so the client sees the response is incomplete", async () => {
    const result = await get("/body-shorter");
    expect(result.closed).toBe(true);
    expect(result.responses).toEqual([]); // never a complete-looking response
    // Either nothing at all, or the truncated response: both read as "failed" to any client.
    const wire = result.garbage.toString("latin1");
    if (wire !== "") expect(wire).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n(abc)?$/);
    expect(result.log).toMatch(/app sent 3 bytes of its Content-Length 10/);
    await stillServes();
  });

  it("longer: exactly Content-Length bytes are sent and the excess is logged", async () => {
    const result = await get("/body-longer");
    expect(result.responses.map((response) => response.body.toString())).toEqual(["abc"]);
    expect(result.garbage.length).toBe(0);
    expect(result.log).toMatch(/app sent more than its Content-Length \(3\); the excess was cut/);
    await stillServes();
  });
});

describe("errors reach the log, never the client", () => {
  it("an exception gives a bare 500; the stack and paths go to the error log", async () => {
    const result = await get("/throws");
    expect(result.responses.map((response) => response.status)).toEqual([500]);
    const body = result.responses[0]!.body.toString("latin1");
    expect(body).toBe("Internal Server Error\n");
    for (const pattern of LEAK_PATTERNS) expect(body).not.toMatch(pattern);
    expect(body).not.toMatch(/password|secret/);
    expect(result.log).toMatch(/database password rejected at \/srv\/app\/secret\.ts/);
    expect(result.log).toMatch(/\n\s+at /); // the stack trace
    await stillServes();
  });
});
