/**
 * gateway/handler.ts: what the gateway adds around the response engine for one request — the
 * report of each exchange (access log, metrics, `post_request`), the log lines of a failure, a
 * refused request's status and closed connection, the drain of a body the app left half read,
 * and a client that leaves while its response waits.
 */
import { STATUS_CODES, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import type { Application, HeaderList, ResponseBody, Status } from "../../../tsgi/types.js";
import type { ExchangeRecord } from "../../../gateway/handler.js";
import type { ServerSettings } from "../../../gateway/server.js";
import {
  parseResponse,
  rawRequest,
  startGateway,
  waitFor,
  type RawResponse,
} from "../../helpers/gateway.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const OK: [Status, HeaderList] = ["200 OK", [["Content-Type", "text/plain"]]];
const GET = (target = "/", extra = "") =>
  `GET ${target} HTTP/1.1\r\nHost: test\r\n${extra}Connection: close\r\n\r\n`;

const hello: Application = (_e, start) => {
  start(...OK);
  return [bytes("hello")];
};

/** Serves one raw request with `app`; the answer, the log, and the exchanges reported. */
async function exchange(
  app: Application,
  request = GET(),
  settings: Partial<ServerSettings> = {},
  timesRequests?: boolean,
): Promise<{ response: RawResponse; log: string; records: ExchangeRecord[] }> {
  const records: ExchangeRecord[] = [];
  const gateway = await startGateway(app, settings, {
    afterResponse: (record) => records.push(record),
    timesRequests,
  });
  try {
    const raw = await rawRequest(gateway.port, request);
    await waitFor(() => records.length > 0);
    return { response: parseResponse(raw), log: gateway.log.text, records };
  } finally {
    await gateway.close();
  }
}

describe("each exchange is reported once it finishes", () => {
  it("with its status, body bytes, headers and the time it started", async () => {
    const before = process.hrtime.bigint();
    const { records } = await exchange(hello, GET("/x"));
    const after = process.hrtime.bigint();
    expect(records).toHaveLength(1);
    const [record] = records;
    expect([record!.status, record!.bytes, record!.headers]).toEqual([200, 5, OK[1]]);
    expect(record!.environ?.PATH_INFO).toBe("/x");
    expect(record!.startedAt >= before && record!.startedAt <= after).toBe(true);
  });

  it("without a start time (0) when the worker does not time requests", async () => {
    const { records } = await exchange(hello, GET(), {}, false);
    expect(records.map((record) => [record.status, record.startedAt])).toEqual([[200, 0n]]);
  });
});

describe("the log lines of a failure", () => {
  it("a failure before the headers: logged once, without a word of headers sent", async () => {
    const { response, log } = await exchange(() => {
      throw new Error("no database");
    });
    expect(response.code).toBe(500);
    expect(log).toMatch(/\[ERROR\] Error handling request GET \/\n.*no database/);
    expect(log).not.toContain("headers already sent");
  });

  it("a server complaint about the app is one line of its own", async () => {
    const { log } = await exchange((_e, start) => {
      start("200 OK", [["Content-Length", "3"]]);
      return [bytes("abcdef")];
    });
    expect(log).toMatch(
      /\[ERROR\] GET \/: app sent more than its Content-Length \(3\); the excess was cut\n/,
    );
  });

  it("a close() that throws is logged as such, with the error", async () => {
    const { response, log } = await exchange((_e, start) => {
      start(...OK);
      return Object.assign([bytes("x")], {
        close() {
          throw new Error("handle leaked");
        },
      }) as ResponseBody;
    });
    expect(response.code).toBe(200);
    expect(log).toMatch(/\[ERROR\] GET \/: body close\(\) failed\n.*handle leaked/);
  });
});

describe("a request the gateway refuses while serving it", () => {
  it("a trusted proxy's garbage: 400 with its reason, and the connection is closed", async () => {
    const records: ExchangeRecord[] = [];
    const gateway = await startGateway(hello, {}, { afterResponse: (r) => records.push(r) });
    try {
      // Keep-alive asked for: the refusal still closes the connection (rawRequest ends on close).
      const raw = await rawRequest(
        gateway.port,
        "GET / HTTP/1.1\r\nHost: test\r\nX-Forwarded-Proto: gopher\r\n\r\n",
      );
      const response = parseResponse(raw);
      expect(response.statusLine).toBe("HTTP/1.1 400 Bad Request");
      expect(response.header("connection")).toBe("close");
      expect(gateway.log.text).toMatch(/\[WARNING\] Invalid request from ip=127\.0\.0\.1: /);
    } finally {
      await gateway.close();
    }
  });

  it("a chunked body past limit_request_body, read by the app: 413 with its own status text", async () => {
    const body = "a".repeat(200);
    const { response } = await exchange(
      async (environ, start) => {
        await environ["tsgi.input"].read();
        start(...OK);
        return [bytes("read it all")];
      },
      `POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
        `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      { limit_request_body: 100 },
    );
    expect(response.statusLine).toBe(`HTTP/1.1 413 ${STATUS_CODES[413]}`);
  });
});

describe("a body the app left half read", () => {
  it("is drained after the answer, so the connection carries the next request", async () => {
    const app: Application = async (environ, start) => {
      if (environ.REQUEST_METHOD === "POST") await environ["tsgi.input"].read(10);
      start(...OK);
      return [bytes(environ.REQUEST_METHOD)];
    };
    const gateway = await startGateway(app);
    try {
      const body = "b".repeat(256 * 1024); // more than the input buffers before pausing
      const raw = await rawRequest(
        gateway.port,
        `POST / HTTP/1.1\r\nHost: test\r\nContent-Length: ${body.length}\r\n\r\n${body}` + GET(),
        { timeoutMs: 4000 },
      );
      expect(raw.toString("latin1").match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
      expect(raw.toString("latin1").endsWith("GET")).toBe(true);
    } finally {
      await gateway.close();
    }
  });

  it("past limit_request_body: the connection is closed once the drain finds too much", async () => {
    const app: Application = async (environ, start) => {
      await environ["tsgi.input"].read(10);
      start(...OK);
      return [bytes("answered early")];
    };
    // A long keep-alive: the connection must not wait for it to end (the request is paused).
    const gateway = await startGateway(app, { limit_request_body: 100 * 1024, keepalive: 30 });
    try {
      const socket = connect(gateway.port, "127.0.0.1");
      const closed = new Promise((resolve) => socket.on("close", resolve));
      let received = "";
      socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
      socket.on("error", () => {}); // the server may reset while the body is still coming
      const chunk = "c".repeat(64 * 1024);
      socket.write("POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (let i = 0; i < 4; i++) socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      const outcome = await Promise.race([
        closed.then(() => "closed"),
        new Promise((resolve) => setTimeout(resolve, 3000, "still open")),
      ]);
      expect(outcome).toBe("closed");
      expect(received).toMatch(/^HTTP\/1\.1 200 OK/);
    } finally {
      await gateway.close();
    }
  });
});

describe("a client that leaves while its response waits", () => {
  it("for the app's next chunk: close() is called at once", async () => {
    let closes = 0;
    let release: () => void = () => {};
    const app: Application = (_e, start) => {
      start(...OK);
      return Object.assign(
        (async function* () {
          yield bytes("first");
          await new Promise<void>((resolve) => (release = resolve));
          yield bytes("second");
        })(),
        { close: () => void closes++ },
      );
    };
    const gateway = await startGateway(app);
    try {
      await rawRequest(gateway.port, GET(), { until: (got) => got.includes("first") });
      await waitFor(() => closes === 1, 2000);
    } finally {
      release();
      await gateway.close();
    }
  });

  it("for a full socket to drain: the app's generator is stopped", async () => {
    let stopped = false;
    let produced = 0;
    const app: Application = (_e, start) => {
      start(...OK);
      return (async function* () {
        try {
          for (;;) {
            produced++;
            yield new Uint8Array(32 * 1024 * 1024); // more than the kernel buffers take
          }
        } finally {
          stopped = true;
        }
      })();
    };
    const gateway = await startGateway(app);
    try {
      const socket = connect(gateway.port, "127.0.0.1");
      socket.pause(); // reads nothing: the response stays full
      socket.write(GET());
      await waitFor(() => produced === 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
      await waitFor(() => stopped, 2000);
      expect(produced).toBe(1);
    } finally {
      await gateway.close();
    }
  });

  it("a response that filled up many times keeps no listener of its waits", async () => {
    const responses: ServerResponse[] = [];
    let listenersAtStart = -1;
    const app: Application = (_e, start) => {
      start(...OK);
      return (async function* () {
        listenersAtStart = responses[0]!.listenerCount("close");
        for (let i = 0; i < 20; i++) yield new Uint8Array(256 * 1024);
      })();
    };
    const gateway = await startGateway(app);
    gateway.server.prependListener("request", (_request, response: ServerResponse) =>
      responses.push(response),
    );
    try {
      const raw = await rawRequest(gateway.port, GET());
      expect(raw.length).toBeGreaterThan(20 * 256 * 1024);
      // The wait for the client (one listener) is gone too once the body ended.
      expect(responses[0]!.listenerCount("close")).toBe(listenersAtStart - 1);
    } finally {
      await gateway.close();
    }
  });
});
