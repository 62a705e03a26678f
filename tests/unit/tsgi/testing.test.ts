import { describe, expect, it } from "vitest";
import type { Application, ResponseBody, Status, HeaderList } from "../../../tsgi/types.js";
import { callApp, makeEnviron } from "../../../tsgi/testing.js";
import { checkEnviron, TsgiViolation } from "../../../tsgi/validate.js";
import { hello } from "../../../app/hello.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const OK: [Status, HeaderList] = ["200 OK", [["Content-Type", "text/plain"]]];

describe("makeEnviron", () => {
  it("builds an environ the validator accepts, with sensible defaults", () => {
    const environ = makeEnviron();
    expect(() => checkEnviron(environ)).not.toThrow();
    expect(environ).toMatchObject({
      REQUEST_METHOD: "GET",
      SCRIPT_NAME: "",
      PATH_INFO: "/",
      QUERY_STRING: "",
      SERVER_NAME: "localhost",
      SERVER_PORT: "80",
      SERVER_PROTOCOL: "HTTP/1.1",
      HTTP_HOST: "localhost",
      "tsgi.version": [1, 0],
      "tsgi.url_scheme": "http",
      "tsgi.run_once": false,
      // A loopback client, a single-process server that names itself.
      REMOTE_ADDR: "127.0.0.1",
      REMOTE_PORT: "50000",
      SERVER_SOFTWARE: "tsgi-testing",
      "tsgi.multiprocess": false,
    });
    expect(environ.CONTENT_LENGTH).toBeUndefined();
  });

  it("keeps a Content-Length header the test gives, even one that disagrees with the body", () => {
    const environ = makeEnviron({ body: "abc", headers: { "Content-Length": "10" } });
    expect(environ.CONTENT_LENGTH).toBe("10");
  });

  it("splits the query off and percent-decodes the path to Latin-1 bytes", () => {
    const environ = makeEnviron({ method: "POST", path: "/caf%C3%A9/a%2Fb%FF?q=%20x&y" });
    expect(environ.REQUEST_METHOD).toBe("POST");
    expect(environ.PATH_INFO).toBe("/caf\u00c3\u00a9/a/b\u00ff");
    expect(environ.QUERY_STRING).toBe("q=%20x&y");
  });

  it("maps headers to CGI names, joins repeats, drops underscore names", () => {
    const environ = makeEnviron({
      headers: [
        ["Host", "example.com:8080"],
        ["Content-Type", "application/json"],
        ["Accept", "text/html"],
        ["Accept", "*/*"],
        ["X_Forwarded_For", "6.6.6.6"],
      ],
    });
    expect(environ.HTTP_HOST).toBe("example.com:8080");
    expect(environ.CONTENT_TYPE).toBe("application/json");
    expect(environ.HTTP_CONTENT_TYPE).toBeUndefined();
    expect(environ.HTTP_ACCEPT).toBe("text/html, */*");
    expect(environ.HTTP_X_FORWARDED_FOR).toBeUndefined();
    expect(() => checkEnviron(environ)).not.toThrow();
  });

  it("accepts headers as an object, a body as a string (UTF-8) and environ overrides", async () => {
    const environ = makeEnviron({
      headers: { "User-Agent": "vitest" },
      body: "é",
      environ: { SCRIPT_NAME: "/mount", "tsgi.url_scheme": "https", "custom.key": 1 },
    });
    expect(environ.HTTP_USER_AGENT).toBe("vitest");
    expect(environ.CONTENT_LENGTH).toBe("2");
    expect(environ.SCRIPT_NAME).toBe("/mount");
    expect(environ["tsgi.url_scheme"]).toBe("https");
    expect(environ["custom.key"]).toBe(1);
    expect(Array.from(await environ["tsgi.input"].read())).toEqual([0xc3, 0xa9]);
  });

  it("tsgi.input supports read(n), readline(), readlines() and for await", async () => {
    const input = () => makeEnviron({ body: "one\ntwo\nthree" })["tsgi.input"];
    const text = (chunk: Uint8Array) => Buffer.from(chunk).toString();
    const a = input();
    expect(text(await a.read(2))).toBe("on");
    expect(text(await a.readline())).toBe("e\n");
    expect(text(await a.readline(2))).toBe("tw");
    expect((await a.readlines()).map(text)).toEqual(["o\n", "three"]);
    expect((await a.read()).length).toBe(0);
    const b = input();
    expect((await b.readlines(5)).map(text)).toEqual(["one\n", "two\n"]);
    // The line that brings the total to the hint is the last; a hint of 0 or less is no hint.
    expect((await input().readlines(4)).map(text)).toEqual(["one\n"]);
    expect((await input().readlines(0)).map(text)).toEqual(["one\n", "two\n", "three"]);
    const chunks: string[] = [];
    for await (const chunk of input()) chunks.push(text(chunk));
    expect(chunks.join("")).toBe("one\ntwo\nthree");
  });

  it("tsgi.input: a size of 0 reads nothing, a negative size reads without limit", async () => {
    const text = (chunk: Uint8Array) => Buffer.from(chunk).toString();
    const input = makeEnviron({ body: "one\ntwo\nthree" })["tsgi.input"];
    expect(text(await input.read(0))).toBe("");
    expect(text(await input.readline(0))).toBe("");
    expect(text(await input.readline(-1))).toBe("one\n");
    expect(text(await input.read(-1))).toBe("two\nthree");
  });
});

describe("callApp", () => {
  it("runs hello", async () => {
    const response = await callApp(hello);
    expect(response.status).toBe("200 OK");
    expect(response.code).toBe(200);
    expect(response.header("content-type")).toBe("text/plain; charset=utf-8");
    expect(response.header("X-Missing")).toBeUndefined();
    expect(response.text).toBe("Hello, World!");
    expect(response.closed).toBe(false);
  });

  it("collects write() and the body in order, sync and async, with repeated headers", async () => {
    const app: Application = async (_environ, start) => {
      const write = start("201 Created", [
        ["Set-Cookie", "a=1"],
        ["Set-Cookie", "b=2"],
      ]);
      await write(bytes("1"));
      return (async function* () {
        yield bytes("2");
        yield new Uint8Array(0);
        yield bytes("3");
      })();
    };
    const response = await callApp(app);
    expect(response.code).toBe(201);
    expect(response.header("set-cookie")).toBe("a=1, b=2");
    expect(response.text).toBe("123");
    const sync = await callApp((_e, start) => {
      start(...OK);
      return new Set([bytes("s"), bytes("y")]);
    });
    expect(sync.text).toBe("sy");
  });

  it("lets excInfo replace headers that are still pending", async () => {
    const app: Application = (_environ, start) =>
      (function* () {
        start(...OK);
        yield new Uint8Array(0); // nothing sent yet: the headers are still pending
        start("503 Service Unavailable", [["Retry-After", "1"]], new Error("db down"));
        yield bytes("later");
      })();
    const response = await callApp(app);
    expect(response.status).toBe("503 Service Unavailable");
    expect(response.header("Retry-After")).toBe("1");
  });

  it("rethrows excInfo once the headers are out, and still closes the body", async () => {
    const failure = new Error("mid-stream");
    let closed = 0;
    const app: Application = (_environ, start) =>
      Object.assign(
        (function* () {
          start(...OK);
          yield bytes("partial");
          start("500 Error", [], failure);
        })(),
        { close: () => void closed++ },
      );
    await expect(callApp(app)).rejects.toBe(failure);
    expect(closed).toBe(1);
  });

  it("refuses a second start_response without excInfo", async () => {
    const app: Application = (_environ, start) => {
      start(...OK);
      start(...OK);
      return [];
    };
    await expect(callApp(app)).rejects.toMatchObject({
      rule: "start_response.second-call-without-exc-info",
    });
  });

  it("refuses malformed headers at start_response", async () => {
    const error = await callApp((_e, start) => {
      start("200 OK", [["Connection", "close"]]);
      return [];
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TsgiViolation);
    expect((error as TsgiViolation).rule).toBe("start_response.hop-by-hop-header");
  });

  it("refuses string chunks, string bodies and bodies without start_response", async () => {
    await expect(
      callApp((_e, start) => {
        start(...OK);
        return ["text"] as unknown as ResponseBody;
      }),
    ).rejects.toMatchObject({ rule: "body.chunk-not-bytes" });
    await expect(callApp(() => "text" as unknown as ResponseBody)).rejects.toMatchObject({
      rule: "app.return-string",
    });
    await expect(callApp(() => [])).rejects.toMatchObject({
      rule: "app.start-response-not-called",
    });
    await expect(callApp(() => [bytes("x")])).rejects.toMatchObject({
      rule: "body.chunk-before-start-response",
    });
  });

  it("calls close() when the body throws, and rethrows the app's error", async () => {
    const failure = new Error("broken");
    let closed = 0;
    const app: Application = (_environ, start) =>
      Object.assign(
        (async function* () {
          start(...OK);
          yield bytes("x");
          throw failure;
        })(),
        { close: () => void closed++ },
      );
    await expect(callApp(app)).rejects.toBe(failure);
    expect(closed).toBe(1);
  });

  it("reports closed: true when the body had close()", async () => {
    const response = await callApp((_e, start) => {
      start(...OK);
      return Object.assign([bytes("x")], { close() {} });
    });
    expect(response.closed).toBe(true);
  });

  it("passes the request through to the app", async () => {
    const echo: Application = async (environ, start) => {
      const body = await environ["tsgi.input"].read();
      start(...OK);
      return [
        bytes(`${environ.REQUEST_METHOD} ${environ.PATH_INFO}?${environ.QUERY_STRING} `),
        body,
      ];
    };
    const response = await callApp(echo, { method: "PUT", path: "/x?y=1", body: "data" });
    expect(response.text).toBe("PUT /x?y=1 data");
  });

  it("errors: empty when the test gave its own tsgi.errors, which gets what the app wrote", async () => {
    let written = "";
    const errors = {
      write: (text: string) => void (written += text),
      writelines: () => {},
      flush: () => {},
    };
    const response = await callApp(
      (environ, start) => {
        environ["tsgi.errors"].write("to the test's stream\n");
        start(...OK);
        return [];
      },
      { environ: { "tsgi.errors": errors } },
    );
    expect([response.errors, written]).toEqual(["", "to the test's stream\n"]);
  });
});
