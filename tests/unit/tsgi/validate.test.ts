import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import type {
  Application,
  Environ,
  HeaderList,
  InputStream,
  ResponseBody,
  StartResponse,
  Status,
} from "../../../tsgi/types.js";
import { callApp, makeEnviron, type TestRequest } from "../../../tsgi/testing.js";
import { RULES, TsgiViolation, validate, type RuleName } from "../../../tsgi/validate.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const OK: [Status, HeaderList] = ["200 OK", [["Content-Type", "text/plain"]]];

/** Every rule a test below has seen broken; the last test checks none is left untested. */
const tested = new Set<string>();

async function violationOf(run: () => unknown): Promise<TsgiViolation> {
  try {
    await run();
  } catch (error) {
    if (error instanceof TsgiViolation) return error;
    throw error;
  }
  throw new Error("expected a TsgiViolation, but nothing was thrown");
}

/** `run` breaks `rule`; the message says what it saw (`detail`) and quotes the rule. */
async function expectRule(rule: RuleName, detail: string, run: () => unknown): Promise<void> {
  const error = await violationOf(run);
  expect(error.rule).toBe(rule);
  expect(error.message).toBe(`${rule}: ${detail} — PEP 3333: "${RULES[rule]}"`);
  tested.add(rule);
}

/** Runs `app` wrapped in the validator through the in-process client. */
function run(app: Application, request: TestRequest = {}) {
  return () => callApp(validate(app), request);
}

/** A server that calls `validate(app)` by hand, for the server-side rules. */
function serve(
  app: Application,
  environ: Partial<Environ> & Record<string, unknown> = {},
  startResponse: StartResponse = () => () => {},
) {
  return validate(app)({ ...makeEnviron(), ...environ } as Environ, startResponse);
}

async function* generate(...chunks: unknown[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk as Uint8Array;
}

describe("validate() lets a correct app through unchanged", () => {
  it("hello-style array body", async () => {
    const response = await callApp(
      validate((_e, start) => {
        start(...OK);
        return [bytes("hi")];
      }),
    );
    expect(response.text).toBe("hi");
  });

  it("async generator body, a promise of a body, write() and an empty chunk", async () => {
    const app: Application = async (_environ, start) => {
      const write = start(...OK);
      await write(bytes("a"));
      return generate(new Uint8Array(0), bytes("b"));
    };
    const response = await callApp(validate(app));
    expect(response.text).toBe("ab");
  });

  it("start_response called from the body's first iteration", async () => {
    const app: Application = (_environ, start) =>
      (function* () {
        start(...OK);
        yield bytes("late");
      })();
    expect((await callApp(validate(app))).text).toBe("late");
  });

  it("a second start_response with excInfo replaces a response not yet sent", async () => {
    const app: Application = (_environ, start) => {
      start(...OK);
      start("500 Internal Server Error", [["Content-Type", "text/plain"]], new Error("boom"));
      return [bytes("oops")];
    };
    expect((await callApp(validate(app))).code).toBe(500);
  });

  it("forwards close() to the app's body: generator and array", async () => {
    let closes = 0;
    const body: ResponseBody = Object.assign(generate(bytes("x")), { close: () => void closes++ });
    const response = await callApp(
      validate((_e, start) => {
        start(...OK);
        return body;
      }),
    );
    expect(response.closed).toBe(true);
    expect(closes).toBe(1);
    const array = Object.assign([bytes("y")], { close: () => void closes++ });
    await callApp(
      validate((_e, start) => {
        start(...OK);
        return array;
      }),
    );
    expect(closes).toBe(2);
  });

  it("keeps an array body an array, so the server can compute Content-Length", () => {
    const body = serve((_e, start) => {
      start(...OK);
      return [bytes("a"), bytes("b")];
    });
    expect(Array.isArray(body)).toBe(true);
  });

  it("passes tsgi.input reads through", async () => {
    const app: Application = async (environ, start) => {
      const input = environ["tsgi.input"];
      const first = await input.readline();
      const rest = await input.read();
      start(...OK);
      return [first, rest];
    };
    const response = await callApp(validate(app), { method: "POST", body: "line\nrest" });
    expect(response.text).toBe("line\nrest");
  });
});

describe("validate() catches the application", () => {
  const statusCases: [RuleName, unknown, string][] = [
    ["start_response.status-not-string", 200, 'status must be a string like "200 OK", got number'],
    [
      "start_response.status-format",
      "200OK",
      'status "200OK" must be three digits, a space and a reason phrase',
    ],
    [
      "start_response.status-format",
      "200 OK\r\n",
      'status "200 OK\\r\\n" must be three digits, a space and a reason phrase',
    ],
    [
      "start_response.status-not-latin1",
      "200 \u20ac",
      'status "200 €" is not Latin-1 (a native string)',
    ],
  ];
  for (const [rule, status, detail] of statusCases)
    it(`${rule}: ${JSON.stringify(status)}`, () =>
      expectRule(
        rule,
        detail,
        run((_e, start) => {
          start(status as Status, []);
          return [];
        }),
      ));

  const headerCases: [RuleName, unknown, string][] = [
    [
      "start_response.headers-not-list",
      { "Content-Type": "text/plain" },
      "headers must be an array of [name, value] pairs",
    ],
    [
      "start_response.header-not-pair",
      [["Content-Type"]],
      'each header must be a [name, value] pair, got ["Content-Type"]',
    ],
    [
      "start_response.header-not-string",
      [["Content-Length", 5]],
      'header name and value must be strings: ["Content-Length",5]',
    ],
    [
      "start_response.header-name",
      [["Content Type", "text/plain"]],
      'header name "Content Type" is not an HTTP token',
    ],
    [
      "start_response.header-not-latin1",
      [["X-Price", "5\u20ac"]],
      'header X-Price value "5€" is not Latin-1 (a native string)',
    ],
    [
      "start_response.header-control-character",
      [["X-Split", "a\r\nSet-Cookie: x=1"]],
      'header X-Split value "a\\r\\nSet-Cookie: x=1" contains CR, LF, NUL or another control character',
    ],
    [
      "start_response.header-control-character",
      [["X-Nul", "a\u0000b"]],
      'header X-Nul value "a\\u0000b" contains CR, LF, NUL or another control character',
    ],
    [
      "start_response.hop-by-hop-header",
      [["Connection", "close"]],
      "header Connection is hop-by-hop: only the server may set it",
    ],
    [
      "start_response.hop-by-hop-header",
      [["Transfer-Encoding", "chunked"]],
      "header Transfer-Encoding is hop-by-hop: only the server may set it",
    ],
    [
      "start_response.content-length",
      [["Content-Length", "12abc"]],
      'Content-Length "12abc" is not a number (a decimal count of bytes)',
    ],
  ];
  for (const [rule, headers, detail] of headerCases)
    it(`${rule}: ${JSON.stringify(headers)}`, () =>
      expectRule(
        rule,
        detail,
        run((_e, start) => {
          start("200 OK", headers as HeaderList);
          return [];
        }),
      ));

  it("start_response.arguments: one argument", () =>
    expectRule(
      "start_response.arguments",
      "start_response() got 1 argument",
      run((_e, start) => {
        (start as unknown as (status: string) => void)("200 OK");
        return [];
      }),
    ));

  it("start_response.second-call-without-exc-info", () =>
    expectRule(
      "start_response.second-call-without-exc-info",
      "start_response() was called a second time without excInfo",
      run((_e, start) => {
        start(...OK);
        start("404 Not Found", []);
        return [];
      }),
    ));

  it("start_response.second-call-without-exc-info: even when the first call was refused", () =>
    expectRule(
      "start_response.second-call-without-exc-info",
      "start_response() was called a second time without excInfo",
      run((_e, start) => {
        try {
          start("200 OK", [["Connection", "close"]]);
        } catch {
          // swallowed: the app retries without excInfo, which is still a second call
        }
        start(...OK);
        return [];
      }),
    ));

  it("start_response.after-close", async () => {
    let start: StartResponse = () => () => {};
    const body = serve((_e, startResponse) => {
      start = startResponse;
      startResponse(...OK);
      return generate();
    }) as ResponseBody;
    await body.close?.();
    await expectRule("start_response.after-close", "the body was already closed", () =>
      start("500 Error", [], new Error("late")),
    );
  });

  it("write.not-bytes: a string", () =>
    expectRule(
      "write.not-bytes",
      'write() got a string "text"; encode it to a Uint8Array',
      run((_e, start) => {
        const write = start(...OK);
        void write("text" as unknown as Uint8Array);
        return [];
      }),
    ));

  it("write.arguments: no argument", () =>
    expectRule(
      "write.arguments",
      "write() got 0 arguments",
      run((_e, start) => {
        const write = start(...OK) as unknown as () => void;
        write();
        return [];
      }),
    ));

  it("write.after-close", async () => {
    let write: ((chunk: Uint8Array) => unknown) | undefined;
    const body = serve((_e, start) => {
      write = start(...OK);
      return generate();
    }) as ResponseBody;
    await body.close?.();
    await expectRule("write.after-close", "write() was called after close()", () =>
      write?.(bytes("late")),
    );
  });

  it("body.chunk-not-bytes: a string chunk", () =>
    expectRule(
      "body.chunk-not-bytes",
      'the body yielded a string "text"; chunks are Uint8Array',
      run((_e, start) => {
        start(...OK);
        return generate("text");
      }),
    ));

  it("body.chunk-not-bytes: a number in an array", () =>
    expectRule(
      "body.chunk-not-bytes",
      "the body yielded number; chunks are Uint8Array",
      run((_e, start) => {
        start(...OK);
        return [42] as unknown as Uint8Array[];
      }),
    ));

  it("body.chunk-before-start-response", () =>
    expectRule(
      "body.chunk-before-start-response",
      "the body yielded before start_response()",
      run((_e, start) =>
        (function* () {
          yield bytes("too early");
          start(...OK);
        })(),
      ),
    ));

  it("app.start-response-not-called: empty array", () =>
    expectRule(
      "app.start-response-not-called",
      "the app returned [] without calling start_response()",
      run(() => []),
    ));

  it("app.start-response-not-called: empty generator", () =>
    expectRule(
      "app.start-response-not-called",
      "the body ended and start_response() was never called",
      run(() => generate()),
    ));

  it("app.return-string", () =>
    expectRule(
      "app.return-string",
      'the app returned a string "Hello"',
      run((_e, start) => {
        start(...OK);
        return "Hello" as unknown as ResponseBody;
      }),
    ));

  it("app.return-string: from an async app", () =>
    expectRule(
      "app.return-string",
      'the app returned a string "Hello"',
      run(async (_e, start) => {
        start(...OK);
        return "Hello" as unknown as ResponseBody;
      }),
    ));

  it("app.return-bytes", () =>
    expectRule(
      "app.return-bytes",
      "the app returned a bare Uint8Array",
      run((_e, start) => {
        start(...OK);
        return bytes("Hello") as unknown as ResponseBody;
      }),
    ));

  for (const [value, detail] of [
    [undefined, "the app returned undefined"],
    [null, "the app returned null"],
    [false, "the app returned false"],
    [{ length: 1 }, "the app returned Object"],
  ] as const)
    it(`app.return-not-iterable: ${JSON.stringify(value)}`, () =>
      expectRule(
        "app.return-not-iterable",
        detail,
        run((_e, start) => {
          start(...OK);
          return value as unknown as ResponseBody;
        }),
      ));

  it("input.close-called", () =>
    expectRule(
      "input.close-called",
      "the app called tsgi.input.close()",
      run((environ) => {
        (environ["tsgi.input"] as unknown as { close(): void }).close();
        return [];
      }),
    ));

  for (const [args, detail] of [
    [["10"], 'read(a string "10"): size must be an integer'],
    [[1.5], "read(number): size must be an integer"],
    [[1, 2], "read() got 2 arguments; it takes one"],
  ] as [unknown[], string][])
    it(`input.size-argument: read(${args.map((a) => JSON.stringify(a)).join(", ")})`, () =>
      expectRule(
        "input.size-argument",
        detail,
        run(async (environ) => {
          const read = environ["tsgi.input"].read as (...args: unknown[]) => Promise<Uint8Array>;
          await read(...args);
          return [];
        }),
      ));

  it("input methods outside the contract are not there", async () => {
    const seen: unknown[] = [];
    await callApp(
      validate((environ, start) => {
        const input = environ["tsgi.input"] as unknown as Record<string, unknown>;
        seen.push(input.pipe, input.on, input.destroy);
        start(...OK);
        return [];
      }),
      { method: "POST", body: "x" },
    );
    expect(seen).toEqual([undefined, undefined, undefined]);
  });

  it("errors.write-not-string", () =>
    expectRule(
      "errors.write-not-string",
      "tsgi.errors.write(Uint8Array)",
      run((environ) => {
        environ["tsgi.errors"].write(bytes("x") as unknown as string);
        return [];
      }),
    ));

  it("errors.write-not-string: through writelines", () =>
    expectRule(
      "errors.write-not-string",
      "tsgi.errors.write(number)",
      run((environ) => {
        environ["tsgi.errors"].writelines(["ok", 5 as unknown as string]);
        return [];
      }),
    ));

  it("errors.close-called", () =>
    expectRule(
      "errors.close-called",
      "the app called tsgi.errors.close()",
      run((environ) => {
        (environ["tsgi.errors"] as unknown as { close(): void }).close();
        return [];
      }),
    ));

  it("tsgi.errors text reaches the server's stream", async () => {
    const response = await callApp(
      validate((environ, start) => {
        environ["tsgi.errors"].write("one\n");
        environ["tsgi.errors"].writelines(["two\n"]);
        environ["tsgi.errors"].flush();
        start(...OK);
        return [];
      }),
    );
    expect(response.errors).toBe("one\ntwo\n");
  });
});

describe("validate() catches the server", () => {
  const hello: Application = (_e, start) => {
    start(...OK);
    return generate(bytes("hi"));
  };

  const environCases: [RuleName, Record<string, unknown>, string][] = [
    ["environ.missing-key", { SERVER_NAME: undefined }, "environ has no SERVER_NAME"],
    ["environ.missing-key", { "tsgi.input": undefined }, "environ has no tsgi.input"],
    ["environ.empty-value", { SERVER_PORT: "" }, "SERVER_PORT is empty"],
    ["environ.empty-value", { REQUEST_METHOD: "" }, "REQUEST_METHOD is empty"],
    ["environ.not-native-string", { HTTP_X_NUMBER: 5 }, "HTTP_X_NUMBER is number, not a string"],
    [
      "environ.not-native-string",
      { PATH_INFO: "/caf\u00e9/\u20ac" },
      'PATH_INFO "/café/€" is not Latin-1',
    ],
    [
      "environ.http-content-header",
      { HTTP_CONTENT_TYPE: "text/plain" },
      "environ has HTTP_CONTENT_TYPE",
    ],
    [
      "environ.http-content-header",
      { HTTP_CONTENT_LENGTH: "5" },
      "environ has HTTP_CONTENT_LENGTH",
    ],
    ["environ.script-name", { SCRIPT_NAME: "/" }, 'SCRIPT_NAME is "/"'],
    ["environ.script-name", { SCRIPT_NAME: "app" }, 'SCRIPT_NAME is "app"'],
    ["environ.path-info", { PATH_INFO: "index.html" }, 'PATH_INFO is "index.html"'],
    ["environ.content-length", { CONTENT_LENGTH: "-1" }, 'CONTENT_LENGTH is "-1"'],
    ["environ.server-protocol", { SERVER_PROTOCOL: "1.1" }, 'SERVER_PROTOCOL is "1.1"'],
    ["environ.tsgi-version", { "tsgi.version": [1, 1] }, "tsgi.version is [1,1]"],
    ["environ.url-scheme", { "tsgi.url_scheme": "ftp" }, 'tsgi.url_scheme is "ftp"'],
    [
      "environ.input",
      { "tsgi.input": { read() {}, readlines() {} } },
      "tsgi.input has no readline method",
    ],
    [
      "environ.input",
      { "tsgi.input": { read() {}, readline() {}, readlines() {} } },
      "tsgi.input is not async-iterable",
    ], // not async-iterable
    [
      "environ.errors",
      { "tsgi.errors": { write() {}, writelines() {} } },
      "tsgi.errors has no flush method",
    ],
    [
      "environ.flag-not-boolean",
      { "tsgi.multiprocess": "yes" },
      'tsgi.multiprocess is a string "yes"',
    ],
    ["environ.file-wrapper", { "tsgi.file_wrapper": {} }, "tsgi.file_wrapper is Object"],
    // The edges of each rule: the whole value is checked, not a piece of it.
    ["environ.empty-value", { SERVER_NAME: "" }, "SERVER_NAME is empty"],
    ["environ.content-length", { CONTENT_LENGTH: "5x" }, 'CONTENT_LENGTH is "5x"'],
    ["environ.server-protocol", { SERVER_PROTOCOL: "XHTTP/1.1" }, 'SERVER_PROTOCOL is "XHTTP/1.1"'],
    ["environ.server-protocol", { SERVER_PROTOCOL: "HTTP/1.1x" }, 'SERVER_PROTOCOL is "HTTP/1.1x"'],
    ["environ.tsgi-version", { "tsgi.version": [1, 0, 0] }, "tsgi.version is [1,0,0]"],
    ["environ.tsgi-version", { "tsgi.version": [2, 0] }, "tsgi.version is [2,0]"],
    ["environ.input", { "tsgi.input": "stdin" }, "tsgi.input has no (the whole object) method"],
    ["environ.input", { "tsgi.input": null }, "tsgi.input has no (the whole object) method"],
    [
      "environ.file-wrapper",
      { "tsgi.file_wrapper": Object.create(null) },
      "tsgi.file_wrapper is an object",
    ],
  ];
  for (const [rule, overrides, detail] of environCases)
    it(`${rule}: ${JSON.stringify(overrides)}`, () => {
      const environ: Record<string, unknown> = { ...makeEnviron(), ...overrides };
      for (const [key, value] of Object.entries(overrides))
        if (value === undefined) delete environ[key];
      return expectRule(rule, detail, () =>
        validate(hello)(environ as unknown as Environ, () => () => {}),
      );
    });

  it("environ.not-object", () =>
    expectRule("environ.not-object", "environ is null", () =>
      validate(hello)(null as unknown as Environ, () => () => {}),
    ));

  it("environ.not-object: a string, an array", async () => {
    await expectRule("environ.not-object", 'environ is a string "GET /"', () =>
      validate(hello)("GET /" as unknown as Environ, () => () => {}),
    );
    await expectRule("environ.not-object", "environ is an array", () =>
      validate(hello)([] as unknown as Environ, () => () => {}),
    );
  });

  it("lets an environ through with an empty CONTENT_LENGTH and a version-only protocol", () => {
    const body = serve(hello, { CONTENT_LENGTH: "", SERVER_PROTOCOL: "HTTP/2" });
    expect(typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]).toBe("function");
  });

  it("server.app-arguments", () =>
    expectRule("server.app-arguments", "the application was called with 1 argument", () =>
      (validate(hello) as unknown as (environ: Environ) => unknown)(makeEnviron()),
    ));

  it("server.start-response-not-callable", () =>
    expectRule("server.start-response-not-callable", 'start_response is a string "start"', () =>
      validate(hello)(makeEnviron(), "start" as unknown as StartResponse),
    ));

  it("server.write-not-callable", () =>
    expectRule("server.write-not-callable", "start_response() returned undefined", () =>
      serve(hello, {}, (() => undefined) as unknown as StartResponse),
    ));

  it("server.exc-info-not-rethrown: the server swallowed excInfo after the headers went out", async () => {
    const body = serve((_e, start) =>
      (async function* () {
        start(...OK);
        yield bytes("sent");
        start("500 Error", [], new Error("after the headers"));
      })(),
    ) as AsyncIterable<Uint8Array>;
    await expectRule(
      "server.exc-info-not-rethrown",
      "start_response(…, excInfo) returned although the headers were already sent",
      async () => {
        for await (const _chunk of body);
      },
    );
  });

  it("a server that rethrows excInfo after the headers went out is fine", async () => {
    const failure = new Error("after the headers");
    const app: Application = (_e, start) =>
      (async function* () {
        start(...OK);
        yield bytes("sent");
        start("500 Error", [], failure);
      })();
    await expect(callApp(validate(app))).rejects.toBe(failure);
  });

  it("server.close-twice", async () => {
    const body = serve(hello) as ResponseBody;
    await body.close?.();
    await expectRule("server.close-twice", "the server called close() a second time", () =>
      body.close?.(),
    );
  });

  it("server.close-twice: on an array body", async () => {
    const body = serve((_e, start) => {
      start(...OK);
      return [bytes("x")];
    }) as ResponseBody;
    await body.close?.();
    await expectRule("server.close-twice", "the server called close() a second time", () =>
      body.close?.(),
    );
  });

  it("server.next-after-close", async () => {
    const body = serve(hello) as ResponseBody & AsyncIterable<Uint8Array>;
    const iterator = body[Symbol.asyncIterator]();
    await body.close?.();
    await expectRule("server.next-after-close", "the server asked for a chunk after close()", () =>
      iterator.next(),
    );
  });

  it("server.next-after-close: sync body", async () => {
    const body = serve((_e, start) => {
      start(...OK);
      return new Set([bytes("x")]);
    }) as ResponseBody & Iterable<Uint8Array>;
    const iterator = body[Symbol.iterator]();
    await body.close?.();
    await expectRule("server.next-after-close", "the server asked for a chunk after close()", () =>
      iterator.next(),
    );
  });

  it("server.iterated-twice", async () => {
    const body = serve(hello) as AsyncIterable<Uint8Array>;
    for await (const _chunk of body);
    await expectRule("server.iterated-twice", "the server iterated the body twice", () =>
      body[Symbol.asyncIterator](),
    );
  });

  it("server.input-result: read() gave a string", async () => {
    const input = {
      read: async () => "text",
      readline: async () => new Uint8Array(0),
      readlines: async () => [],
      async *[Symbol.asyncIterator]() {},
    };
    await expectRule("server.input-result", 'tsgi.input.read() gave a string "text"', () =>
      serve(
        async (environ, start) => {
          await environ["tsgi.input"].read();
          start(...OK);
          return [];
        },
        { "tsgi.input": input as unknown as InputStream },
      ),
    );
  });

  it("iterator return() reaches the app's generator (its finally runs)", async () => {
    let cleaned = false;
    const body = serve((_e, start) =>
      (function* () {
        try {
          start(...OK);
          yield bytes("a");
          yield bytes("b");
        } finally {
          cleaned = true;
        }
      })(),
    ) as Iterable<Uint8Array>;
    for (const _chunk of body) break;
    expect(cleaned).toBe(true);
  });
});

describe("validate(): the edges of the rules", () => {
  it("names its error TsgiViolation", async () => {
    const error = await violationOf(() =>
      validate(() => [])(null as unknown as Environ, () => () => {}),
    );
    expect(error.name).toBe("TsgiViolation");
  });

  it("quotes at most 20 characters of a string it was given", () =>
    expectRule(
      "write.not-bytes",
      'write() got a string "abcdefghijklmnopqrst"; encode it to a Uint8Array',
      run((_e, start) => {
        const write = start(...OK);
        void write("abcdefghijklmnopqrstuvwxyz" as unknown as Uint8Array);
        return [];
      }),
    ));

  it("start_response.arguments: four arguments", () =>
    expectRule(
      "start_response.arguments",
      "start_response() got 4 arguments",
      run((_e, start) => {
        (start as unknown as (...args: unknown[]) => void)("200 OK", [], null, "more");
        return [];
      }),
    ));

  it("start_response.second-call-without-exc-info: a null excInfo is no excInfo", () =>
    expectRule(
      "start_response.second-call-without-exc-info",
      "start_response() was called a second time without excInfo",
      run((_e, start) => {
        start(...OK);
        start("404 Not Found", [], null);
        return [];
      }),
    ));

  it("server.exc-info-not-rethrown: after a non-empty write(), not after an empty one", async () => {
    const writeThenFail = (chunk: Uint8Array) => () =>
      serve((_e, start) => {
        const write = start(...OK);
        void write(chunk);
        start("500 Error", [], new Error("after write()"));
        return [];
      });
    await expectRule(
      "server.exc-info-not-rethrown",
      "start_response(…, excInfo) returned although the headers were already sent",
      writeThenFail(bytes("sent")),
    );
    // Nothing was sent: the server may replace the response, as it did.
    expect(Array.isArray(writeThenFail(new Uint8Array(0))())).toBe(true);
  });

  it("app.start-response-not-called: a body that ends, iterated by a server that checks nothing", async () => {
    const body = serve(() => generate()) as AsyncIterable<Uint8Array>;
    await expectRule(
      "app.start-response-not-called",
      "the body ended and start_response() was never called",
      async () => {
        for await (const _chunk of body);
      },
    );
  });

  it("keeps the array's close() out of its enumerable keys", () => {
    const body = serve((_e, start) => {
      start(...OK);
      return [bytes("a"), bytes("b")];
    });
    expect(Object.keys(body as object)).toEqual(["0", "1"]);
    expect(typeof (body as ResponseBody).close).toBe("function");
  });

  it("errors.write-not-string: an array", () =>
    expectRule(
      "errors.write-not-string",
      "tsgi.errors.write(an array)",
      run((environ) => {
        environ["tsgi.errors"].write(["text"] as unknown as string);
        return [];
      }),
    ));

  it("forwards tsgi.errors.flush() to the server's stream", () => {
    let flushes = 0;
    const errors = { write() {}, writelines() {}, flush: () => void flushes++ };
    serve(
      (environ, start) => {
        environ["tsgi.errors"].flush();
        start(...OK);
        return [];
      },
      { "tsgi.errors": errors },
    );
    expect(flushes).toBe(1);
  });

  const sizeCases: [string, (input: InputStream) => Promise<unknown>, string][] = [
    ["readline", (input) => input.readline("x" as unknown as number), 'readline(a string "x")'],
    ["readlines", (input) => input.readlines(1.5), "readlines(number)"],
  ];
  for (const [method, call, detail] of sizeCases)
    it(`input.size-argument: ${method}`, () =>
      expectRule(
        "input.size-argument",
        `${detail}: size must be an integer`,
        run(async (environ) => {
          await call(environ["tsgi.input"]);
          return [];
        }),
      ));

  /** A server whose tsgi.input answers strings where bytes are due. */
  const stringInput = {
    read: async () => "text",
    readline: async () => "line",
    readlines: async () => "lines",
    async *[Symbol.asyncIterator]() {
      yield "chunk";
    },
  };
  const resultCases: [string, (input: InputStream) => Promise<unknown>, unknown, string][] = [
    ["readline", (input) => input.readline(), stringInput, 'readline() gave a string "line"'],
    ["readlines", (input) => input.readlines(), stringInput, 'readlines() gave a string "lines"'],
    [
      "readlines, one line",
      (input) => input.readlines(),
      { ...stringInput, readlines: async () => ["l"] },
      'readlines() gave a string "l"',
    ],
    [
      "async iteration",
      async (input) => {
        for await (const _chunk of input);
      },
      stringInput,
      '[Symbol.asyncIterator]() gave a string "chunk"',
    ],
  ];
  for (const [name, call, input, detail] of resultCases)
    it(`server.input-result: ${name}`, () =>
      expectRule("server.input-result", `tsgi.input.${detail}`, () =>
        serve(
          async (environ, start) => {
            await call(environ["tsgi.input"]);
            start(...OK);
            return [];
          },
          { "tsgi.input": input as InputStream },
        ),
      ));
});

describe("the rule table", () => {
  it("every rule the validator knows has a test above that breaks it", () => {
    const untested = Object.keys(RULES).filter((rule) => !tested.has(rule));
    expect(untested).toEqual([]);
  });

  it("docs/tsgi.md lists every rule name", async () => {
    const doc = await readFile(new URL("../../../docs/tsgi.md", import.meta.url), "utf8");
    const listed = (rule: string) =>
      doc.includes(`\`${rule}\``) || doc.includes(`\`${rule.slice(rule.indexOf(".") + 1)}\``);
    const missing = Object.keys(RULES).filter((rule) => !listed(rule));
    expect(missing).toEqual([]);
  });
});
