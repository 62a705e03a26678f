/**
 * The server side of PEP 3333, one rule per test, checked on the wire (raw sockets, so nothing
 * between the gateway and the assertion rewrites the response).
 */
import { createHash } from "node:crypto";
import { Agent, get } from "node:http";
import { connect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import type { Application, HeaderList, ResponseBody, Status } from "../../../tsgi/types.js";
import { validate } from "../../../tsgi/validate.js";
import { hello } from "../../../app/hello.js";
import type { ServerSettings } from "../../../gateway/server.js";
import {
  dechunk,
  parseResponse,
  rawRequest,
  startGateway,
  waitFor,
  type RawResponse,
} from "../../helpers/gateway.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const OK: [Status, HeaderList] = ["200 OK", [["Content-Type", "text/plain"]]];
const GET = (target = "/", version = "1.1", method = "GET") =>
  `${method} ${target} HTTP/${version}\r\nHost: test\r\nConnection: close\r\n\r\n`;

/** Serves one raw request with `app` on a fresh gateway; returns the parsed answer and the log. */
async function exchange(
  app: Application,
  request = GET(),
  settings: Partial<ServerSettings> = {},
): Promise<{ response: RawResponse; raw: Buffer; log: string }> {
  const gateway = await startGateway(app, settings);
  try {
    const raw = await rawRequest(gateway.port, request);
    // Let the gateway finish its own bookkeeping (close(), log lines) after the socket closed.
    await new Promise((resolve) => setImmediate(resolve));
    return { response: parseResponse(raw), raw, log: gateway.log.text };
  } finally {
    await gateway.close();
  }
}

async function* generate(...chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

function withClose<T extends object>(body: T, onClose: () => void): T & ResponseBody {
  return Object.assign(body, { close: onClose }) as T & ResponseBody;
}

describe("headers wait for the first non-empty chunk", () => {
  it("an app that fails after start_response still gets a clean 500 (nothing was sent)", async () => {
    const { response, log } = await exchange((_e, start) => {
      start(...OK);
      throw new Error("database exploded");
    });
    expect(response.code).toBe(500);
    expect(response.body.toString()).toBe("Internal Server Error\n");
    expect(response.body.toString()).not.toContain("database");
    expect(log).toMatch(/\[ERROR\] Error handling request GET \/\n/);
    expect(log).toContain("Error: database exploded");
    expect(log).toMatch(/\n\s+at /); // the stack goes to the log, not to the client
  });

  it("an empty chunk sends nothing: start_response(…, excInfo) can still replace the response", async () => {
    const app: Application = (_e, start) =>
      (async function* () {
        start(...OK);
        yield new Uint8Array(0);
        start("503 Service Unavailable", [["Retry-After", "5"]], new Error("overloaded"));
        yield bytes("later");
      })();
    const { response } = await exchange(app);
    expect(response.statusLine).toBe("HTTP/1.1 503 Service Unavailable");
    expect(response.header("retry-after")).toBe("5");
    expect(response.header("content-type")).toBeUndefined();
    expect(dechunk(response.body).toString()).toBe("later");
  });

  it("a body that ends without data sends the headers at the end, with Content-Length: 0", async () => {
    const { response } = await exchange((_e, start) => {
      start("201 Created", [["Location", "/x"]]);
      return generate();
    });
    expect(response.code).toBe(201);
    expect(response.header("content-length")).toBe("0");
    expect(response.header("location")).toBe("/x");
  });

  it("excInfo after the headers went out is rethrown: the connection is aborted and logged", async () => {
    let rethrown: unknown;
    const app: Application = (_e, start) =>
      (async function* () {
        start(...OK);
        yield bytes("partial");
        try {
          start("500 Error", [], new Error("too late"));
        } catch (error) {
          rethrown = error;
          throw error;
        }
      })();
    const { response, raw, log } = await exchange(app);
    expect(response.code).toBe(200);
    expect((rethrown as Error).message).toBe("too late");
    expect(raw.toString("latin1")).not.toMatch(/0\r\n\r\n$/); // no clean end of the chunked body
    expect(() => dechunk(response.body)).toThrow();
    expect(log).toContain("headers already sent; connection aborted");
  });

  it("a second start_response without excInfo is a contract violation → 500", async () => {
    const { response, log } = await exchange((_e, start) => {
      start(...OK);
      start("404 Not Found", []);
      return [];
    });
    expect(response.code).toBe(500);
    expect(log).toContain("start_response() called a second time without excInfo");
  });
});

describe("the body on the wire", () => {
  it("write() sends data before the returned body's chunks", async () => {
    const { response } = await exchange(async (_e, start) => {
      const write = start(...OK);
      await write(bytes("one,"));
      await write(bytes("two,"));
      return [bytes("three")];
    });
    expect(response.header("transfer-encoding")).toBe("chunked");
    expect(dechunk(response.body).toString()).toBe("one,two,three");
  });

  it("an array body gets an exact Content-Length, no chunking", async () => {
    const { response } = await exchange((_e, start) => {
      start(...OK);
      return [bytes("Hello, "), bytes("World!")];
    });
    expect(response.header("content-length")).toBe("13");
    expect(response.header("transfer-encoding")).toBeUndefined();
    expect(response.body.toString()).toBe("Hello, World!");
  });

  it("a streamed body is chunked on HTTP/1.1", async () => {
    const { response } = await exchange((_e, start) => {
      start(...OK);
      return generate(bytes("a"), bytes("b"));
    });
    expect(response.header("content-length")).toBeUndefined();
    expect(response.header("transfer-encoding")).toBe("chunked");
    expect(dechunk(response.body).toString()).toBe("ab");
  });

  it("a streamed body is close-delimited on HTTP/1.0", async () => {
    const { response } = await exchange(
      (_e, start) => {
        start(...OK);
        return generate(bytes("a"), bytes("b"));
      },
      GET("/", "1.0"),
    );
    expect(response.header("content-length")).toBeUndefined();
    expect(response.header("transfer-encoding")).toBeUndefined();
    expect(response.header("connection")).toBe("close");
    expect(response.body.toString()).toBe("ab");
  });

  it("HEAD gets the headers (with the GET Content-Length) and no body", async () => {
    const { response } = await exchange(hello, GET("/", "1.1", "HEAD"));
    expect(response.code).toBe(200);
    expect(response.header("content-length")).toBe("13");
    expect(response.body.length).toBe(0);
  });

  for (const status of ["204 No Content", "304 Not Modified"] as Status[])
    it(`${status}: no body, even if the app yields one`, async () => {
      const { response } = await exchange((_e, start) => {
        start(status, []);
        return [bytes("ignored")];
      });
      expect(response.statusLine).toBe(`HTTP/1.1 ${status}`);
      expect(response.body.length).toBe(0);
      expect(response.header("content-length")).toBeUndefined();
      expect(response.header("transfer-encoding")).toBeUndefined();
    });

  it("an app's own Content-Length is sent once, never with a second one of the gateway's", async () => {
    for (const [length, body] of [
      ["5", [bytes("Hello")]],
      ["0", []],
    ] as const) {
      const { response } = await exchange((_e, start) => {
        start("200 OK", [["Content-Length", length]]);
        return [...body];
      });
      expect(response.headers.get("content-length"), length).toEqual([length]);
    }
  });

  it("HEAD with an empty streamed body says nothing of the body's length", async () => {
    const { response } = await exchange(
      (_e, start) => {
        start(...OK);
        return generate();
      },
      GET("/", "1.1", "HEAD"),
    );
    expect(response.code).toBe(200);
    expect(response.header("content-length")).toBeUndefined();
  });

  it("an array body larger than the socket takes at once arrives whole (the rest waits for drain)", async () => {
    const chunks = Array.from({ length: 64 }, (_, i) => new Uint8Array(64 * 1024).fill(i));
    const { response } = await exchange((_e, start) => {
      start(...OK);
      return chunks;
    });
    const sent = createHash("sha256");
    for (const chunk of chunks) sent.update(chunk);
    expect(response.header("content-length")).toBe(String(64 * 64 * 1024));
    expect(createHash("sha256").update(response.body).digest("hex")).toBe(sent.digest("hex"));
  });

  it("Date and Server are added; an app's own Server header wins", async () => {
    const first = await exchange(hello);
    expect(first.response.header("date")).toMatch(/GMT$/);
    expect(first.response.header("server")).toMatch(/^foobar/);
    const second = await exchange((_e, start) => {
      start("200 OK", [["Server", "my-app"]]);
      return [];
    });
    expect(second.response.headers.get("server")).toEqual(["my-app"]);
  });

  it("app Content-Length longer than the body: the connection is closed so the client notices", async () => {
    // A keep-alive request: only the gateway closing the connection ends rawRequest().
    const { response, log } = await exchange(
      (_e, start) => {
        start("200 OK", [["Content-Length", "10"]]);
        return generate(bytes("short"));
      },
      "GET / HTTP/1.1\r\nHost: test\r\n\r\n",
      { keepalive: 60 },
    );
    expect(response.header("content-length")).toBe("10");
    expect(response.body.toString()).toBe("short");
    expect(log).toContain("app sent 5 bytes of its Content-Length 10");
  });

  for (const [kind, body] of [
    ["array", () => [bytes("0123"), bytes("456789")]],
    ["stream", () => generate(bytes("0123"), bytes("456789"))],
  ] as const)
    it(`app Content-Length shorter than the body (${kind}): the excess is cut and logged`, async () => {
      const gateway = await startGateway((_e, start) => {
        start("200 OK", [["Content-Length", "6"]]);
        return body();
      });
      try {
        // Two requests on one connection: the cut must not leak bytes into the next response.
        const request = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
        const raw = await rawRequest(
          gateway.port,
          request + request.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"),
        );
        const text = raw.toString("latin1");
        const responses = text.split(/(?=HTTP\/1\.1 )/);
        expect(responses).toHaveLength(2);
        for (const one of responses)
          expect(parseResponse(Buffer.from(one, "latin1")).body.toString()).toBe("012345");
        expect(gateway.log.text).toContain("app sent more than its Content-Length (6)");
      } finally {
        await gateway.close();
      }
    });

  it("once the app's Content-Length is used up, the gateway stops asking for chunks", async () => {
    let pulled = 0;
    let closes = 0;
    const { response } = await exchange((_e, start) => {
      start("200 OK", [["Content-Length", "4"]]);
      return withClose(
        (function* () {
          for (const text of ["01", "2345", "never", "never"]) {
            pulled++;
            yield bytes(text);
          }
        })(),
        () => void closes++,
      );
    });
    expect(response.body.toString()).toBe("0123");
    expect(pulled).toBe(2);
    expect(closes).toBe(1);
  });

  it("keep-alive: two requests reuse one connection", async () => {
    const gateway = await startGateway(hello);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const fetchOne = () =>
        new Promise<{ reused: boolean; body: string }>((resolve, reject) => {
          const request = get(`${gateway.url}/`, { agent }, (response) => {
            let body = "";
            response.setEncoding("latin1");
            response.on("data", (chunk: string) => (body += chunk));
            response.on("end", () => resolve({ reused: request.reusedSocket, body }));
          });
          request.on("error", reject);
        });
      const first = await fetchOne();
      const second = await fetchOne();
      expect([first.body, second.body]).toEqual(["Hello, World!", "Hello, World!"]);
      expect(first.reused).toBe(false);
      expect(second.reused).toBe(true);
    } finally {
      agent.destroy();
      await gateway.close();
    }
  });
});

describe("close() is called exactly once", () => {
  it("on success: array and stream bodies", async () => {
    let closes = 0;
    await exchange((_e, start) => {
      start(...OK);
      return withClose([bytes("x")], () => void closes++);
    });
    await exchange((_e, start) => {
      start(...OK);
      return withClose(generate(bytes("x")), () => void closes++);
    });
    expect(closes).toBe(2);
  });

  it("when the body throws mid-stream", async () => {
    let closes = 0;
    const { log } = await exchange((_e, start) =>
      withClose(
        (async function* () {
          start(...OK);
          yield bytes("x");
          throw new Error("mid-stream failure");
        })(),
        () => void closes++,
      ),
    );
    expect(closes).toBe(1);
    expect(log).toContain("mid-stream failure");
  });

  it("a body that throws after its first chunk leaves the response truncated (no last chunk)", async () => {
    const { response } = await exchange((_e, start) =>
      (async function* () {
        start(...OK);
        yield bytes("partial");
        throw new Error("mid-stream failure");
      })(),
    );
    expect(response.header("transfer-encoding")).toBe("chunked");
    expect(response.body.toString()).toContain("partial");
    expect(() => dechunk(response.body)).toThrow("chunked body ends without the last chunk");
  });

  for (const thrown of [null, undefined])
    it(`an app that throws ${String(thrown)} after start_response gets a 500`, async () => {
      const { response } = await exchange((_e, start) => {
        start(...OK);
        throw thrown;
      });
      expect(response.code).toBe(500);
      expect(response.body.toString()).toBe("Internal Server Error\n");
    });

  it("when the app's body is refused (string chunk)", async () => {
    let closes = 0;
    await exchange((_e, start) => {
      start(...OK);
      return withClose(["text"] as unknown as Uint8Array[], () => void closes++);
    });
    expect(closes).toBe(1);
  });

  it("when the client disconnects mid-stream, and the stream stops", async () => {
    let closes = 0;
    let produced = 0;
    const endless: Application = (_e, start) =>
      withClose(
        (async function* () {
          start(...OK);
          for (;;) {
            produced++;
            yield new Uint8Array(16 * 1024);
            await new Promise((resolve) => setImmediate(resolve));
          }
        })(),
        () => void closes++,
      );
    const gateway = await startGateway(endless);
    try {
      await rawRequest(gateway.port, GET(), { until: (received) => received.length > 64 * 1024 });
      await waitFor(() => closes === 1);
      const stoppedAt = produced;
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(produced).toBe(stoppedAt);
      expect(closes).toBe(1);
    } finally {
      await gateway.close();
    }
  });

  for (const [kind, makeBody] of [
    [
      "stream",
      () =>
        (async function* () {
          for (;;) yield new Uint8Array(1024);
        })(),
    ],
    ["array", () => [new Uint8Array(1024)]],
  ] as const)
    it(`when the client disconnects while the app is still computing its body (${kind})`, async () => {
      let closes = 0;
      let entered = false;
      let release: () => void = () => {};
      const slow: Application = async (_e, start) => {
        entered = true;
        await new Promise<void>((resolve) => (release = resolve));
        start(...OK);
        return withClose(makeBody(), () => void closes++);
      };
      const gateway = await startGateway(slow);
      let serverSocketClosed = false;
      gateway.server.on("connection", (socket: Socket) =>
        socket.on("close", () => (serverSocketClosed = true)),
      );
      try {
        const socket = connect(gateway.port, "127.0.0.1");
        const gone = new Promise((resolve) => socket.on("close", resolve));
        socket.write(GET());
        await waitFor(() => entered);
        socket.destroy();
        await gone;
        await waitFor(() => serverSocketClosed);
        release();
        await waitFor(() => closes === 1);
      } finally {
        await gateway.close();
      }
    });
});

describe("back-pressure", () => {
  it("a paused client stops the app's generator; resumed, the whole body arrives intact", async () => {
    const CHUNK = 64 * 1024;
    const TOTAL_CHUNKS = 1024; // 64 MB: far more than the socket buffers can hold
    let produced = 0;
    const chunkAt = (i: number) => new Uint8Array(CHUNK).fill(i % 251);
    const big: Application = (_e, start) => {
      start("200 OK", [["Content-Length", String(CHUNK * TOTAL_CHUNKS)]]);
      return (async function* () {
        for (let i = 0; i < TOTAL_CHUNKS; i++) {
          produced++;
          yield chunkAt(i);
        }
      })();
    };
    const expected = createHash("sha256");
    for (let i = 0; i < TOTAL_CHUNKS; i++) expected.update(chunkAt(i));
    const gateway = await startGateway(big);
    try {
      const socket = connect(gateway.port, "127.0.0.1");
      const received = createHash("sha256");
      let headerDone = false;
      let pending = Buffer.alloc(0);
      let bodyBytes = 0;
      const done = new Promise<void>((resolve) => socket.on("close", () => resolve()));
      socket.on("data", (data: Buffer) => {
        if (!headerDone) {
          pending = Buffer.concat([pending, data]);
          const end = pending.indexOf("\r\n\r\n");
          if (end === -1) return;
          headerDone = true;
          data = pending.subarray(end + 4);
        }
        bodyBytes += data.length;
        received.update(data);
      });
      // The client reads nothing yet: the gateway may fill the socket buffers, then must wait.
      socket.pause();
      socket.write(GET());
      await waitFor(() => produced > 0);
      let last = -1;
      while (produced !== last) {
        last = produced;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(produced).toBeLessThan(TOTAL_CHUNKS / 2);
      socket.resume();
      await done;
      expect(produced).toBe(TOTAL_CHUNKS);
      expect(bodyBytes).toBe(CHUNK * TOTAL_CHUNKS);
      expect(received.digest("hex")).toBe(expected.digest("hex"));
    } finally {
      await gateway.close();
    }
  });
});

describe("contract violations → 500, and the log names the rule", () => {
  const cases: [string, Application, RegExp][] = [
    [
      "a string chunk from a generator",
      (_e, start) => {
        start(...OK);
        return (function* () {
          yield "text";
        })() as unknown as ResponseBody;
      },
      /TSGI contract violation: body yielded a string/,
    ],
    [
      "a string chunk in an array",
      (_e, start) => {
        start(...OK);
        return ["text"] as unknown as Uint8Array[];
      },
      /TSGI contract violation: body yielded a string/,
    ],
    [
      "a string as the whole body",
      (_e, start) => {
        start(...OK);
        return "Hello" as unknown as ResponseBody;
      },
      /TSGI contract violation: app returned a string/,
    ],
    [
      "a non-iterable return value",
      (_e, start) => {
        start(...OK);
        return 42 as unknown as ResponseBody;
      },
      /TSGI contract violation: app returned number that is not iterable/,
    ],
    [
      "start_response never called (empty body)",
      () => [],
      /TSGI contract violation: .*start_response\(\)/,
    ],
    [
      "start_response never called (data)",
      () => generate(bytes("x")),
      /TSGI contract violation: .*before start_response\(\)/,
    ],
    [
      "a hop-by-hop header",
      (_e, start) => {
        start("200 OK", [["Transfer-Encoding", "chunked"]]);
        return [];
      },
      /hop-by-hop/,
    ],
    [
      "a validated app breaking a rule (TsgiViolation)",
      validate((_e, start) => {
        start("200 OK", [["X-Bad", "a\nb"]]);
        return [];
      }),
      /start_response\.header-control-character/,
    ],
  ];
  for (const [name, app, logged] of cases)
    it(name, async () => {
      const { response, log } = await exchange(app);
      expect(response.code).toBe(500);
      expect(response.body.toString()).toBe("Internal Server Error\n");
      expect(log).toMatch(logged);
    });

  it("the worker keeps serving after a violation", async () => {
    let calls = 0;
    const gateway = await startGateway((environ, start) => {
      calls++;
      if (environ.PATH_INFO === "/bad") return "oops" as unknown as ResponseBody;
      start(...OK);
      return [bytes("fine")];
    });
    try {
      expect(parseResponse(await rawRequest(gateway.port, GET("/bad"))).code).toBe(500);
      const good = parseResponse(await rawRequest(gateway.port, GET("/good")));
      expect([good.code, good.body.toString()]).toEqual([200, "fine"]);
      expect(calls).toBe(2);
    } finally {
      await gateway.close();
    }
  });
});
