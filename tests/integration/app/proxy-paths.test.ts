/**
 * The proxy never takes a request outside its upstream's base path: `..`, `%2e%2e` and encoded
 * slashes are resolved inside the mount, and what would only climb out at a server that
 * decodes again or reads `\` or `..;` its own way gets a 400. Raw request targets go through
 * the real gateway (node:http sends them as written; fetch would resolve them first) to a proxy
 * whose upstream (`/base`) records what it was asked for. The property test at the end tries
 * targets built from the pieces such attacks are made of.
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { proxy, type ProxyApplication } from "../../../app/proxy.js";
import { urlMap } from "../../../app/routing.js";
import { listen, startGateway, type Listening } from "../../helpers/gateway.js";

const seed = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED);

let upstream: Listening;
let gateway: Listening;
let forwarder: ProxyApplication;
/** The request target the upstream received last. */
let received: string | undefined;

beforeAll(async () => {
  upstream = await listen((request: IncomingMessage, response: ServerResponse) => {
    received = request.url;
    response.end("upstream\n");
  });
  forwarder = proxy({ upstreams: [upstream.url + "/base"] });
  gateway = await startGateway(urlMap({ "/proxy": forwarder }));
});
afterAll(async () => {
  await gateway.close();
  await forwarder.close();
  await upstream.close();
});

/** GET `target` exactly as written; the status, and what the upstream was asked for (if any). */
function get(target: string): Promise<{ status: number; upstreamGot: string | undefined }> {
  received = undefined;
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: "127.0.0.1", port: gateway.port, path: target, agent: false },
      (response) => {
        response.resume();
        response.on("end", () => resolve({ status: response.statusCode!, upstreamGot: received }));
      },
    );
    request.on("error", reject);
    request.end();
  });
}

/** How a server further on might read `target`'s path: each must stay under /base. */
function readings(target: string): Record<string, string> {
  const path = target.split("?")[0]!;
  const resolve = (p: string) => new URL(p, "http://upstream.invalid").pathname;
  const decoded = path.replace(/%([0-9a-f]{2})/gi, (_, hex: string) =>
    String.fromCharCode(parseInt(hex, 16)),
  );
  return {
    // A URL parser: resolves dot segments, %2e as a dot, and (http URLs) `\` as `/`.
    "as a URL": resolve(path),
    // A server that percent-decodes once more before it resolves.
    "decoded again": resolve(decoded.replace(/[?#]/g, encodeURIComponent)),
    // A Java server: `;parameters` of a segment removed, then resolved.
    "without path parameters": resolve(path.replace(/;[^/]*/g, "")),
  };
}

const underBase = (path: string) => path === "/base" || path.startsWith("/base/");

describe("proxy paths stay under the upstream's base path", () => {
  it.each([
    ["/proxy/%2e%2e/x", "/base/x"],
    ["/proxy/..%2fx", "/base/x"],
    ["/proxy/%2E%2E%2Fsecret", "/base/secret"],
    ["/proxy/../../x", "/base/x"],
    ["/proxy/a/b/../../../c/./d?q=..%2F", "/base/c/d?q=..%2F"],
    ["/proxy/a/..", "/base/"],
    ["/proxy", "/base/"],
  ])("%s reaches the upstream as %s", async (target, expected) => {
    expect(await get(target)).toEqual({ status: 200, upstreamGot: expected });
  });

  it.each([
    ["/proxy/%252e%252e/secret", "a dot encoded twice"],
    ["/proxy/..%252fsecret", "a slash encoded twice"],
    ["/proxy/..%5csecret", "a backslash"],
    ["/proxy/..;/secret", "a dot segment with parameters"],
    ["/proxy/..%00", "a control character (a URL parser strips it from the end)"],
    ["/proxy/..%20/secret", "a dot segment padded with a space"],
  ])("%s (%s) is refused with 400, and nothing reaches the upstream", async (target) => {
    expect(await get(target)).toEqual({ status: 400, upstreamGot: undefined });
  });

  it("whatever the target, the upstream is asked for a path under /base, however it reads it", async () => {
    const piece = fc.constantFrom(
      "..",
      ".",
      "/",
      "%2e",
      "%2E",
      "%2f",
      "%2F",
      "%5c",
      "%5C",
      "%25",
      "%252e",
      "%252f",
      "..;",
      ";x",
      "a",
      "b",
      "%3F",
      "%23",
      "?",
      "%00",
      "%09",
      "%20",
      "%C3%A9",
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 12 }), async (pieces) => {
        const { status, upstreamGot } = await get("/proxy/" + pieces.join(""));
        if (status === 400) {
          expect(upstreamGot).toBeUndefined();
          return;
        }
        expect(status).toBe(200);
        for (const [reading, path] of Object.entries(readings(upstreamGot!)))
          expect(underBase(path), `${upstreamGot} ${reading}: ${path}`).toBe(true);
      }),
      { seed, numRuns: 150 },
    );
  });
});
