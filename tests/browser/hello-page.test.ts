/**
 * The teaching hello page over a real socket (in-process gateway, port 0): content negotiation,
 * what the page shows, and that nothing from the request can inject markup.
 */
import { hostname } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeValue } from "../../app/describe-value.js";
import { escapeHtml, helloPage, wantsHtml } from "../../app/hello-page.js";
import { trail } from "../../app/middleware-trail.js";
import type { Application } from "../../tsgi/types.js";
import { startGateway, type RunningGateway } from "../helpers/gateway.js";

const BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

const servers: RunningGateway[] = [];

async function serve(app: Application): Promise<string> {
  const gateway = await startGateway(app);
  servers.push(gateway);
  return gateway.url;
}

let plain: string;
let trailed: string;

beforeAll(async () => {
  plain = await serve(helloPage);
  trailed = await serve(trail("request-id")(trail("access-log")(helloPage)));
});

afterAll(() => Promise.all(servers.map((gateway) => gateway.close())));

describe("content negotiation", () => {
  it("gives curl's */* exactly the plain hello", async () => {
    const response = await fetch(plain + "/", { headers: { Accept: "*/*" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await response.text()).toBe("Hello, World!");
  });

  it("treats a missing or empty Accept header as not asking for HTML", () => {
    expect(wantsHtml(undefined)).toBe(false);
    expect(wantsHtml("")).toBe(false);
  });

  it("gives a browser the HTML page", async () => {
    const response = await fetch(plain + "/", { headers: { Accept: BROWSER_ACCEPT } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("vary")).toBe("Accept");
    const html = await response.text();
    expect(html).toContain("<h1>Hello, World!</h1>");
    expect(Number(response.headers.get("content-length"))).toBe(Buffer.byteLength(html));
  });

  it("reads media ranges and refusals the way RFC 9110 says", () => {
    expect(wantsHtml("text/html")).toBe(true);
    expect(wantsHtml("application/xhtml+xml;q=0.5")).toBe(true);
    expect(wantsHtml("TEXT/HTML ; q=1")).toBe(true);
    expect(wantsHtml("text/html;q=0")).toBe(false);
    expect(wantsHtml("text/html;q=0.000, */*")).toBe(false);
    expect(wantsHtml("text/plain, */*")).toBe(false);
  });
});

describe("the page", () => {
  async function page(base: string, headers: Record<string, string> = {}, path = "/") {
    const response = await fetch(base + path, { headers: { Accept: BROWSER_ACCEPT, ...headers } });
    return response.text();
  }

  it("shows the pid of the process that served it", async () => {
    expect(await page(plain)).toContain(`<code id="worker-pid">${process.pid}</code>`);
  });

  it("shows the host (in Docker, the container) that served it", async () => {
    expect(await page(plain)).toContain(`<code id="hostname">${hostname()}</code>`);
  });

  it("shows (none) when no middleware recorded a trail", async () => {
    expect(await page(plain)).toContain(`<dd id="middleware-trail">(none)</dd>`);
  });

  it("shows the middleware trail, outermost first", async () => {
    expect(await page(trailed)).toContain(
      `<dd id="middleware-trail"><code>request-id</code> → <code>access-log</code> → app</dd>`,
    );
  });

  it("lists every environ key, sorted, headers and tsgi.* included", async () => {
    const html = await page(plain, { "X-Teaching": "yes" });
    const keys = [...html.matchAll(/<th scope="row">([^<]+)<\/th>/g)].map((match) => match[1]);
    expect(keys).toEqual([...keys].sort());
    for (const key of [
      "REQUEST_METHOD",
      "PATH_INFO",
      "SERVER_PROTOCOL",
      "HTTP_ACCEPT",
      "HTTP_X_TEACHING",
      "tsgi.input",
      "tsgi.version",
      "tsgi.url_scheme",
    ])
      expect(keys).toContain(key);
    expect(html).toContain(`<th scope="row">HTTP_X_TEACHING</th><td>&quot;yes&quot;</td>`);
    expect(html).toContain(`<th scope="row">tsgi.version</th><td>[1,0]</td>`);
    expect(html).toMatch(/<th scope="row">tsgi.input<\/th><td>&lt;\w+&gt;<\/td>/);
  });

  it("escapes everything the request carries (no script gets through)", async () => {
    const html = await page(plain, { "X-Evil": `<script>alert("x")</script>'&` }, "/%3Cb%3E");
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<b>");
    expect(html).toContain("&lt;script&gt;alert(\\&quot;x\\&quot;)&lt;/script&gt;&#39;&amp;");
    expect(html).toContain("<code>GET /&lt;b&gt;</code>");
  });

  it("forbids scripts and outside loads with a Content-Security-Policy", async () => {
    const response = await fetch(plain + "/", { headers: { Accept: BROWSER_ACCEPT } });
    expect(response.headers.get("content-security-policy")).toBe(
      "default-src 'none'; style-src 'unsafe-inline'",
    );
    const html = await response.text();
    expect(html).not.toMatch(/\b(src|href)=/);
  });

  it("shows a UTF-8 path both as the bytes PEP 3333 gives and as text", async () => {
    const html = await page(plain, {}, "/caf%C3%A9");
    expect(html).toContain(
      `<th scope="row">PATH_INFO</th><td>&quot;/cafÃ©&quot; (UTF-8: /café)</td>`,
    );
  });
});

describe("describeValue", () => {
  it("names objects by their type and leaves plain values readable", () => {
    expect(describeValue("x")).toBe('"x"');
    expect(describeValue(true)).toBe("true");
    expect(describeValue([1, 0])).toBe("[1,0]");
    expect(describeValue(new Map())).toBe("<Map>");
    expect(describeValue({})).toBe("<object>");
    expect(describeValue(function fileWrapper() {})).toBe("function fileWrapper");
    expect(describeValue(Object.create(null))).toBe("<object>");
  });

  it("adds the UTF-8 reading of a native string only when it is one", () => {
    expect(describeValue("/caf\u00c3\u00a9")).toBe('"/caf\u00c3\u00a9" (UTF-8: /café)');
    expect(describeValue("/caf\u00e9")).toBe('"/caf\u00e9"'); // one byte 0xE9: not UTF-8
    expect(describeValue("/café→")).toBe('"/café→"'); // not bytes at all: shown as it is
  });

  it("escapes all five HTML specials", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe(
      "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
    );
  });
});
