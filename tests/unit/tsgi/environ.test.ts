/**
 * tsgi/environ.ts: the one builder of the environ's CGI and tsgi.* keys, and of the HTTP_* keys
 * from request headers. The servers that use it (gateway, test client, toFetch) are checked
 * against each other at the end: the same request gives them the same header keys.
 */
import { IncomingMessage } from "node:http";
import { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { addRequestHeaders, createEnviron, type EnvironRequest } from "@foobar/tsgi/environ";
import { makeEnviron } from "@foobar/tsgi/testing";
import type { Environ, ErrorStream, InputStream } from "@foobar/tsgi";
import { toEnviron } from "../../../app/fetch-adapter.js";
import { buildEnviron, type ServerContext } from "../../../gateway/environ.js";
import { fileWrapper } from "../../../gateway/file-wrapper.js";
import { TrustedProxies } from "../../../gateway/trusted-proxies.js";

const input = {} as InputStream;
const errors: ErrorStream = { write() {}, writelines() {}, flush() {} };
const request: EnvironRequest = {
  method: "POST",
  scriptName: "/app",
  pathInfo: "/a b",
  query: "x=1",
  serverName: "example.org",
  serverPort: "8080",
  protocol: "HTTP/1.0",
  scheme: "https",
  remoteAddr: "192.0.2.1",
  input,
};

function withHeaders(raw: string[]): Environ {
  const environ = createEnviron(request, { software: "t/1", errors, multiprocess: true });
  addRequestHeaders(environ, raw);
  return environ;
}

describe("createEnviron", () => {
  it("writes every key PEP 3333 requires from the request and server facts", () => {
    const environ = createEnviron(request, { software: "t/1", errors, multiprocess: true });
    expect(environ).toEqual({
      REQUEST_METHOD: "POST",
      SCRIPT_NAME: "/app",
      PATH_INFO: "/a b",
      QUERY_STRING: "x=1",
      SERVER_NAME: "example.org",
      SERVER_PORT: "8080",
      SERVER_PROTOCOL: "HTTP/1.0",
      SERVER_SOFTWARE: "t/1",
      REMOTE_ADDR: "192.0.2.1",
      "tsgi.version": [1, 0],
      "tsgi.url_scheme": "https",
      "tsgi.input": input,
      "tsgi.errors": errors,
      "tsgi.multithread": false,
      "tsgi.multiprocess": true,
      "tsgi.run_once": false,
      "tsgi.input_terminated": true,
    });
    expect(Object.isFrozen(environ["tsgi.version"])).toBe(true);
  });

  it("leaves out what the server does not know, rather than setting it to undefined", () => {
    const { remoteAddr: _unknown, ...noAddress } = request;
    const environ = createEnviron(noAddress, { software: "t/1", errors, multiprocess: false });
    expect("REMOTE_ADDR" in environ).toBe(false);
    expect("tsgi.file_wrapper" in environ).toBe(false);
    const withWrapper = createEnviron(request, {
      software: "t/1",
      errors,
      multiprocess: false,
      fileWrapper,
    });
    expect(withWrapper["tsgi.file_wrapper"]).toBe(fileWrapper);
    expect(withWrapper.REMOTE_ADDR).toBe("192.0.2.1");
  });
});

describe("addRequestHeaders", () => {
  it("maps names to HTTP_* keys, Content-Type and Content-Length to their CGI names", () => {
    const environ = withHeaders([
      "Host",
      "example.org",
      "user-agent",
      "curl",
      "Content-Type",
      "text/plain",
      "content-length",
      "5",
    ]);
    expect(environ.HTTP_HOST).toBe("example.org");
    expect(environ.HTTP_USER_AGENT).toBe("curl");
    expect(environ.CONTENT_TYPE).toBe("text/plain");
    expect(environ.CONTENT_LENGTH).toBe("5");
    expect("HTTP_CONTENT_TYPE" in environ).toBe(false);
    expect("HTTP_CONTENT_LENGTH" in environ).toBe(false);
  });

  it("joins a repeated header with ', ' in the order received", () => {
    const environ = withHeaders(["Accept", "text/html", "X-Tag", "a", "accept", "*/*"]);
    expect(environ.HTTP_ACCEPT).toBe("text/html, */*");
    expect(environ.HTTP_X_TAG).toBe("a");
  });

  it("drops names with _ so they cannot forge the key of a name with -", () => {
    const environ = withHeaders(["X_Forwarded_For", "6.6.6.6", "X-Forwarded-For", "1.2.3.4"]);
    expect(environ.HTTP_X_FORWARDED_FOR).toBe("1.2.3.4");
  });
});

describe("the servers that use it agree", () => {
  const headers: [string, string][] = [
    ["Host", "example.org"],
    ["Accept", "text/html"],
    ["Accept", "*/*"],
    ["Content-Type", "text/plain"],
    ["X_Bad", "dropped"],
  ];
  const headerKeys = (environ: Environ) =>
    Object.fromEntries(Object.entries(environ).filter(([key]) => /^(HTTP_|CONTENT_)/.test(key)));
  const expected = {
    HTTP_HOST: "example.org",
    HTTP_ACCEPT: "text/html, */*",
    CONTENT_TYPE: "text/plain",
  };

  it("the test client", () => {
    expect(headerKeys(makeEnviron({ headers }))).toEqual(expected);
  });

  it("toFetch's environ", () => {
    const fetchRequest = new Request("http://example.org/", { headers: headers.slice(1) });
    expect(headerKeys(toEnviron(fetchRequest))).toEqual(expected);
  });

  it("the gateway", () => {
    const message = new IncomingMessage(new Socket());
    message.method = "GET";
    message.url = "/";
    message.rawHeaders = headers.flat();
    const context: ServerContext = {
      root_path: "",
      software: "t/1",
      multiprocess: false,
      errors,
      fileWrapper,
      trustedProxies: new TrustedProxies(""),
    };
    expect(headerKeys(buildEnviron(message, input, context))).toEqual(expected);
  });
});
