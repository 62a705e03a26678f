import { describe, expect, it, vi } from "vitest";
import { fromFetch, requestUrl, toEnviron, toFetch } from "../../../app/fetch-adapter.js";
import { trail, trailOf } from "../../../app/middleware-trail.js";
import { callApp, makeEnviron } from "../../../tsgi/testing.js";
import type {
  Application,
  Environ,
  InputStream,
  ResponseBody,
  Status,
} from "../../../tsgi/types.js";
import { unquoteToNative } from "../../../tsgi/rules.js";
import { validate } from "../../../tsgi/validate.js";

const encode = (text: string) => new TextEncoder().encode(text);

describe("requestUrl (PEP 3333's URL reconstruction)", () => {
  it.each([
    [{ HTTP_HOST: "example.com:8080" }, "http://example.com:8080/app/caf%C3%A9?x=1"],
    [
      { HTTP_HOST: undefined, SERVER_NAME: "10.0.0.1", SERVER_PORT: "80" },
      "http://10.0.0.1/app/caf%C3%A9?x=1",
    ],
    [
      { HTTP_HOST: undefined, SERVER_NAME: "h", SERVER_PORT: "8443", "tsgi.url_scheme": "https" },
      "https://h:8443/app/caf%C3%A9?x=1",
    ],
    [
      { HTTP_HOST: undefined, SERVER_NAME: "h", SERVER_PORT: "443", "tsgi.url_scheme": "https" },
      "https://h/app/caf%C3%A9?x=1",
    ],
  ] as [Partial<Environ>, string][])("%o → %s", (overrides, url) => {
    const environ = makeEnviron({
      path: "/app/caf%C3%A9?x=1",
      environ: { SCRIPT_NAME: "/app", PATH_INFO: "/caf\xc3\xa9", ...overrides },
    });
    expect(requestUrl(environ)).toBe(url);
  });
});

describe("fromFetch", () => {
  it("gives the handler a Request rebuilt from the environ, and the environ as env", async () => {
    let seen:
      { url: string; method: string; headers: [string, string][]; body: string } | undefined;
    let env: unknown;
    const app = validate(
      fromFetch(async (request, handlerEnv) => {
        env = handlerEnv;
        seen = {
          url: request.url,
          method: request.method,
          headers: [...request.headers],
          body: await request.text(),
        };
        return new Response("ok");
      }),
    );
    const response = await callApp(app, {
      method: "PUT",
      path: "/a%20b?q=1",
      headers: { "X-Thing": "1", Connection: "keep-alive, X-Thing", "Content-Type": "text/plain" },
      body: "hello body",
    });
    expect(response.text).toBe("ok");
    expect(seen).toEqual({
      url: "http://localhost/a%20b?q=1",
      method: "PUT",
      headers: [
        ["content-length", "10"],
        ["content-type", "text/plain"],
        ["host", "localhost"],
      ],
      body: "hello body",
    });
    expect((env as Environ).REQUEST_METHOD).toBe("PUT");
  });

  it("reads tsgi.input only as fast as the handler reads the body", async () => {
    let reads = 0;
    const chunks = ["a", "b", "c", "d"].map(encode);
    const input = {
      async *[Symbol.asyncIterator]() {
        for (const chunk of chunks) {
          reads++;
          yield chunk;
        }
      },
    } as unknown as InputStream;
    const app = fromFetch(async (request) => {
      const reader = request.body!.getReader();
      const first = await reader.read();
      const readsAfterOne = reads;
      await reader.cancel();
      return new Response(`${new TextDecoder().decode(first.value)} ${readsAfterOne}`);
    });
    const environ = makeEnviron({ method: "POST", environ: { CONTENT_LENGTH: "4" } });
    environ["tsgi.input"] = input;
    const body = (await app(environ, () => () => undefined)) as Uint8Array[];
    expect(new TextDecoder().decode(body[0])).toBe("a 1");
    expect(reads).toBe(1);
  });

  it("keeps each Set-Cookie and drops hop-by-hop headers", async () => {
    const app = validate(
      fromFetch(() => {
        const headers = new Headers({ "Content-Type": "text/plain", Connection: "close" });
        headers.append("Set-Cookie", "a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT");
        headers.append("Set-Cookie", "b=2");
        return new Response("cookies", { status: 201, statusText: "Made", headers });
      }),
    );
    const response = await callApp(app);
    expect(response.status).toBe("201 Made");
    expect(response.headers).toEqual([
      ["content-type", "text/plain"],
      ["set-cookie", "a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT"],
      ["set-cookie", "b=2"],
    ]);
  });

  it("streams a long body with back-pressure, and close() cancels it and aborts the request", async () => {
    let pulls = 0;
    let cancelled = false;
    // The Request itself, not just its signal: undici's signal follows ours through a weak ref.
    let seen: Request | undefined;
    const app = validate(
      fromFetch((request) => {
        seen = request;
        const endless = new ReadableStream<Uint8Array>(
          {
            async pull(controller) {
              pulls++;
              await new Promise((resolve) => setTimeout(resolve, 1));
              controller.enqueue(encode(`chunk ${pulls}\n`));
            },
            cancel() {
              cancelled = true;
            },
          },
          { highWaterMark: 0 },
        );
        return new Response(endless);
      }),
    );
    const body = (await app(makeEnviron(), () => () => undefined)) as ResponseBody &
      AsyncIterable<Uint8Array>;
    const iterator = body[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) expect((await iterator.next()).done).toBe(false);
    expect(pulls).toBeLessThanOrEqual(5); // read on demand, not drained in the background
    await body.close?.();
    expect(cancelled).toBe(true);
    expect(seen?.signal.aborted).toBe(true);
  });

  it("answers a Host that cannot form a URL with 400 and a log line", async () => {
    const handler = vi.fn(() => new Response("never"));
    const response = await callApp(validate(fromFetch(handler)), {
      headers: { Host: "bad host/x" },
    });
    expect(response.code).toBe(400);
    expect(response.errors).toContain("fromFetch:");
    expect(handler).not.toHaveBeenCalled();
  });

  it("sends no body and invents no Content-Length for HEAD", async () => {
    const response = await callApp(
      validate(fromFetch(() => new Response("body", { headers: { "X-A": "1" } }))),
      { method: "HEAD" },
    );
    expect(response.body.length).toBe(0);
    expect(response.header("content-length")).toBeUndefined();
  });

  it("lets a handler's failure reach the server", async () => {
    const app = validate(
      fromFetch(() => {
        throw new Error("handler failed");
      }),
    );
    await expect(callApp(app)).rejects.toThrow("handler failed");
  });
});

describe("toFetch", () => {
  it("builds the environ from the Request", async () => {
    const environ = toEnviron(
      new Request("https://example.com:8443/caf%C3%A9?x=%2F", {
        method: "POST",
        headers: { "Content-Type": "text/plain", "X-Forwarded_For": "forged", Accept: "*/*" },
        body: "line one\nline two\n",
      }),
    );
    expect(environ).toMatchObject({
      REQUEST_METHOD: "POST",
      SCRIPT_NAME: "",
      PATH_INFO: "/caf\xc3\xa9",
      QUERY_STRING: "x=%2F",
      SERVER_NAME: "example.com",
      SERVER_PORT: "8443",
      CONTENT_TYPE: "text/plain",
      HTTP_ACCEPT: "*/*",
      HTTP_HOST: "example.com:8443",
      "tsgi.url_scheme": "https",
    });
    expect(Object.keys(environ).some((key) => key.includes("FORWARDED"))).toBe(false);
    const input = environ["tsgi.input"];
    expect(new TextDecoder().decode(await input.readline())).toBe("line one\n");
    expect(new TextDecoder().decode(await input.read(4))).toBe("line");
    expect(new TextDecoder().decode(await input.read())).toBe(" two\n");
    expect((await input.read()).length).toBe(0);
  });

  it("reads the URL as the URL parser does, on URLs it would and would not rewrite", () => {
    const hosts = ["localhost", "127.0.0.1", "127.1", "0x7f.0.0.1", "EXAMPLE.com", "10.0.0.01"];
    const moreHosts = ["xn--caf-dma.com", "[::1]", "a-b.c-d", "example.com."];
    const ports = ["", ":80", ":443", ":8080", ":080", ":65535"];
    const paths = ["/", "/a/./b", "/a/../b", "/a/%2e%2E/b", "/..", "/.hidden", "/a..b/"];
    const morePaths = ["/caf%C3%A9", "/a b", "/x;y=1", "/@:$&'()*+,=~_-", "/a|b", "/a^b", "//x"];
    const queries = [
      "",
      "?",
      "?x=1&y=2",
      "?q=caf%C3%A9",
      "?a=%2F/?@:",
      "?a=b|c^d`{}",
      "?a'b",
      "?x#f",
    ];
    let compared = 0;
    for (const scheme of ["http", "https"])
      for (const host of [...hosts, ...moreHosts])
        for (const port of ports)
          for (const path of [...paths, ...morePaths])
            for (const query of queries) {
              // As written (a lazy Request may give its URL unparsed), then as the parser has it.
              const written = `${scheme}://${host}${port}${path}${query}`;
              if (!URL.canParse(written)) continue;
              for (const url of [written, new URL(written).href]) {
                const parsed = new URL(url);
                const request = { url, method: "GET", headers: new Headers(), body: null };
                const environ = toEnviron(request as unknown as Request);
                expect([
                  environ.PATH_INFO,
                  environ.QUERY_STRING,
                  environ.SERVER_NAME,
                  environ.SERVER_PORT,
                  environ.HTTP_HOST,
                ]).toEqual([
                  unquoteToNative(parsed.pathname),
                  parsed.search.slice(1),
                  parsed.hostname,
                  parsed.port || (scheme === "https" ? "443" : "80"),
                  parsed.host,
                ]);
                compared++;
              }
            }
    expect(compared).toBeGreaterThan(10_000);
    // 20,000 URLs: under mutation testing's coverage instrumentation on the shared machine this
    // took more than the 5 s mutation/vitest.config.mts gives a test, which failed Stryker's dry run.
  }, 30_000);

  it("lets the app replace its headers with excInfo until the first chunk", async () => {
    const app: Application = (_environ, startResponse) =>
      (function* () {
        startResponse("200 OK", [["Content-Type", "text/plain"]]);
        yield new Uint8Array(0);
        startResponse("503 Service Unavailable", [["Retry-After", "1"]], new Error("changed mind"));
        yield encode("later");
      })();
    const response = await toFetch(validate(app))(new Request("http://localhost/"));
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(await response.text()).toBe("later");
  });

  it("closes the app's body exactly once when the client cancels", async () => {
    const close = vi.fn();
    const app: Application = (_environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      const chunks = (function* () {
        for (;;) yield encode("more ");
      })();
      return Object.assign(chunks, { close });
    };
    const response = await toFetch(validate(app))(new Request("http://localhost/"));
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    expect(close).toHaveBeenCalledTimes(1);
  });

  it("answers 500 without details when the app throws, and logs why", async () => {
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const response = await toFetch(() => {
        throw new Error("secret detail");
      })(new Request("http://localhost/x"));
      expect(response.status).toBe(500);
      expect(await response.text()).toBe("Internal Server Error\n");
      expect(write.mock.calls.map(([text]) => String(text)).join("")).toContain("secret detail");
    } finally {
      write.mockRestore();
    }
  });

  describe("applies the contract's checks as the gateway does (the response engine's)", () => {
    /** The Response and what toFetch logged, for an app run without validate(). */
    async function serve(app: Application, method = "GET") {
      const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
      try {
        const response = await toFetch(app)(new Request("http://localhost/x", { method }));
        const body = await response.text().then(
          (text) => ({ text }),
          (error: unknown) => ({ error }),
        );
        return { response, body, log: write.mock.calls.map(([text]) => String(text)).join("") };
      } finally {
        write.mockRestore();
      }
    }

    it.each([
      [
        "a second start_response without excInfo",
        ((_environ, startResponse) => {
          startResponse("200 OK", []);
          startResponse("200 OK", []);
          return [];
        }) as Application,
        "start_response.second-call-without-exc-info",
      ],
      [
        "a status without a reason phrase",
        ((_environ, startResponse) => {
          startResponse("200" as Status, []);
          return [];
        }) as Application,
        "start_response.status-format",
      ],
      [
        "a hop-by-hop header",
        ((_environ, startResponse) => {
          startResponse("200 OK", [["Connection", "close"]]);
          return [];
        }) as Application,
        "start_response.hop-by-hop-header",
      ],
      [
        "a string chunk",
        ((_environ, startResponse) => {
          startResponse("200 OK", []);
          return ["text" as unknown as Uint8Array];
        }) as Application,
        "body.chunk-not-bytes",
      ],
      [
        "no start_response at all",
        (() => [encode("x")]) as Application,
        "body.chunk-before-start-response",
      ],
    ])("answers 500 to %s, and logs the rule", async (_what, app, rule) => {
      const { response, body, log } = await serve(app);
      expect(response.status).toBe(500);
      expect(body).toEqual({ text: "Internal Server Error\n" });
      expect(log).toContain(`TSGI contract violation (${rule})`);
    });

    it("never sends more than the app's Content-Length", async () => {
      const { response, body, log } = await serve((_environ, startResponse) => {
        startResponse("200 OK", [["Content-Length", "3"]]);
        return (function* () {
          yield encode("abcdef");
        })();
      });
      expect(response.headers.get("content-length")).toBe("3");
      expect(body).toEqual({ text: "abc" });
      expect(log).toContain("more than its Content-Length (3)");
    });

    it("ends a body short of its Content-Length in an error, so the client sees it", async () => {
      const { body, log } = await serve((_environ, startResponse) => {
        startResponse("200 OK", [["Content-Length", "10"]]);
        return (function* () {
          yield encode("abc");
        })();
      });
      expect(body).toHaveProperty("error");
      expect(log).toContain("3 bytes of its Content-Length 10");
    });

    it("closes a HEAD response's body without reading it to the end", async () => {
      const close = vi.fn();
      let produced = 0;
      const { response, body } = await serve((_environ, startResponse) => {
        startResponse("200 OK", [["Content-Type", "text/plain"]]);
        const chunks = (function* () {
          for (;;) {
            produced++;
            yield encode("more");
          }
        })();
        return Object.assign(chunks, { close });
      }, "HEAD");
      expect(response.status).toBe(200);
      expect(body).toEqual({ text: "" });
      expect(close).toHaveBeenCalledTimes(1);
      expect(produced).toBe(1);
    });
  });

  describe("answers an array body with a Response over its bytes, at once", () => {
    /** An app that returns `chunks` as a list, with a close() that counts its calls. */
    function arrayApp(chunks: string[], headers: [string, string][] = [], status = "200 OK") {
      const close = vi.fn();
      const app: Application = (_environ, startResponse) => {
        startResponse(status as Status, headers);
        return Object.assign(chunks.map(encode), { close });
      };
      return { app: validate(app), close };
    }

    it("the same bytes, an exact Content-Length, close() once, no promise", async () => {
      const { app, close } = arrayApp(["Hello, ", "", "World", "!"], [["X-Kind", "array"]]);
      const answer = toFetch(app)(new Request("http://localhost/"));
      expect(typeof (answer as Partial<Promise<Response>>).then).toBe("undefined");
      const response = await answer;
      expect(response.status).toBe(200);
      expect(response.headers.get("content-length")).toBe("13");
      expect(response.headers.get("x-kind")).toBe("array");
      expect(new Uint8Array(await response.arrayBuffer())).toEqual(encode("Hello, World!"));
      expect(close).toHaveBeenCalledTimes(1);
    });

    it("an empty array: an empty body of Content-Length 0", async () => {
      const { app, close } = arrayApp([]);
      const response = await toFetch(app)(new Request("http://localhost/"));
      expect(response.headers.get("content-length")).toBe("0");
      expect(await response.text()).toBe("");
      expect(close).toHaveBeenCalledTimes(1);
    });

    it("HEAD: no body, the GET's Content-Length, close() once", async () => {
      const { app, close } = arrayApp(["abc"]);
      const response = await toFetch(app)(new Request("http://localhost/", { method: "HEAD" }));
      expect(response.headers.get("content-length")).toBe("3");
      expect(response.body).toBeNull();
      expect(close).toHaveBeenCalledTimes(1);
    });

    it("keeps repeated headers (a list) and a reason phrase of the app's own", async () => {
      const { app } = arrayApp(
        ["x"],
        [
          ["Set-Cookie", "a=1; Path=/"],
          ["Set-Cookie", "b=2; Path=/"],
        ],
        "200 Fine",
      );
      const response = await toFetch(app)(new Request("http://localhost/"));
      expect(response.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2; Path=/"]);
      expect(response.statusText).toBe("Fine");
      expect(await response.text()).toBe("x");
    });

    it("sends headers named like an object's own members as any other", async () => {
      for (const name of ["__proto__", "constructor", "toString"]) {
        const { app } = arrayApp(["x"], [[name, "kept"]]);
        const response = await toFetch(app)(new Request("http://localhost/"));
        expect(response.headers.get(name)).toBe("kept");
        expect(response.headers.get("content-length")).toBe("1");
      }
    });

    it("cuts an array at the app's Content-Length, and logs it", async () => {
      const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
      try {
        const { app, close } = arrayApp(["abc", "def"], [["Content-Length", "4"]]);
        const response = await toFetch(app)(new Request("http://localhost/"));
        expect(response.headers.get("content-length")).toBe("4");
        expect(await response.text()).toBe("abcd");
        expect(close).toHaveBeenCalledTimes(1);
        expect(write.mock.calls.join("")).toContain("more than its Content-Length (4)");
      } finally {
        write.mockRestore();
      }
    });

    it("sends an array short of its Content-Length, then fails the body", async () => {
      const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
      const { app, close } = arrayApp(["abc", "de"], [["Content-Length", "10"]]);
      const received: string[] = [];
      let failure: unknown;
      let log: string;
      try {
        const response = await toFetch(app)(new Request("http://localhost/"));
        const reader = response.body!.getReader();
        for (let step = await reader.read(); !step.done; step = await reader.read())
          received.push(new TextDecoder().decode(step.value));
      } catch (error) {
        failure = error;
      } finally {
        log = write.mock.calls.join("");
        write.mockRestore();
      }
      expect(received.join("")).toBe("abcde");
      expect(String(failure)).toContain("cut off");
      expect(close).toHaveBeenCalledTimes(1);
      expect(log).toContain("5 bytes of its Content-Length 10");
    });

    it("still streams any other body: a generator is read only as the client reads", async () => {
      let produced = 0;
      const app: Application = (_environ, startResponse) => {
        startResponse("200 OK", []);
        return (function* () {
          for (;;) {
            produced++;
            yield encode("more");
          }
        })();
      };
      const response = await toFetch(validate(app))(new Request("http://localhost/"));
      expect(response.headers.get("content-length")).toBeNull();
      const reader = response.body!.getReader();
      await reader.read();
      await reader.read();
      expect(produced).toBeLessThanOrEqual(3);
      await reader.cancel();
    });
  });

  it("asks the Request for its body only when the app reads tsgi.input", async () => {
    const request = new Request("http://localhost/", { method: "POST", body: "data" });
    const body = vi.fn(() => Reflect.get(Request.prototype, "body", request) as ReadableStream);
    Object.defineProperty(request, "body", { get: body });
    const reads: Application = async (environ, startResponse) => {
      const data = await environ["tsgi.input"].read();
      startResponse("200 OK", []);
      return [data];
    };
    const ignores: Application = (_environ, startResponse) => {
      startResponse("204 No Content", []);
      return [];
    };
    await toFetch(ignores)(request);
    expect(body).not.toHaveBeenCalled();
    expect(await (await toFetch(reads)(request)).text()).toBe("data");
    expect(body).toHaveBeenCalledTimes(1);
  });

  it("round-trips: fromFetch(toFetch(app)) keeps the app's answer and the trail", async () => {
    const app = trail("inner")((environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return [encode(`${trailOf(environ).join(",")} ${environ.PATH_INFO}?${environ.QUERY_STRING}`)];
    });
    const response = await callApp(validate(trail("outer")(fromFetch(toFetch(validate(app))))), {
      path: "/p%C3%A9?q=1",
    });
    expect(response.text).toBe("outer,inner /p\xc3\xa9?q=1");
    expect(response.header("content-length")).toBe(String(response.body.length));
  });
});
