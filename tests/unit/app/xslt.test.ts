import { describe, expect, it } from "vitest";
import { isXmlContentType, xslt } from "../../../app/xslt.js";
import { callApp } from "../../../tsgi/testing.js";
import { validate } from "../../../tsgi/validate.js";
import type { Application, HeaderList, Status } from "../../../tsgi/types.js";

const LIST_TO_HTML = `<?xml version="1.0"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="html"/>
  <xsl:template match="/list">
    <ul><xsl:for-each select="item"><li><xsl:value-of select="."/></li></xsl:for-each></ul>
  </xsl:template>
</xsl:stylesheet>`;

const LIST_TO_TEXT = LIST_TO_HTML.replace('method="html"', 'method="text"').replace(
  /<ul>.*<\/ul>/s,
  '<xsl:for-each select="item"><xsl:value-of select="."/>;</xsl:for-each>',
);

const XML = '<?xml version="1.0"?><list><item>a &amp; b</item><item>c</item></list>';
const bytes = (text: string) => new TextEncoder().encode(text);

/** An app answering `body` with `headers`, and noting whether its body was closed. */
function answering(
  body: string,
  headers: HeaderList = [["Content-Type", "application/xml"]],
  status: Status = "200 OK",
): Application & { closed: boolean } {
  const respond: Application = (_environ, startResponse) => {
    startResponse(status, [...headers, ["Content-Length", String(bytes(body).length)]]);
    return Object.assign([bytes(body)], {
      close: () => {
        app.closed = true;
      },
    });
  };
  const app = Object.assign(respond, { closed: false });
  return app;
}

/** Both sides validated: the middleware is an app to its server and a server to its app. */
const render = (stylesheet: string, app: Application) => validate(xslt(stylesheet)(validate(app)));

describe("xslt middleware", () => {
  it("renders an XML response to HTML, fixing Content-Type and Content-Length", async () => {
    const app = answering(XML);
    const response = await callApp(render(LIST_TO_HTML, app));
    expect(response.status).toBe("200 OK");
    expect(response.text).toBe("<!DOCTYPE html>\n<ul><li>a &amp; b</li><li>c</li></ul>");
    expect(response.header("content-type")).toBe("text/html; charset=utf-8");
    expect(response.header("content-length")).toBe(String(response.body.length));
    expect(app.closed).toBe(true);
  });

  it("takes the output type from xsl:output", async () => {
    const response = await callApp(render(LIST_TO_TEXT, answering(XML)));
    expect(response.text).toBe("a & b;c;");
    expect(response.header("content-type")).toBe("text/plain; charset=utf-8");
  });

  it("transforms text/xml and +xml types too, and keeps the other headers", async () => {
    const app = answering(XML, [
      ["Content-Type", "application/atom+xml; charset=utf-8"],
      ["X-Kept", "yes"],
    ]);
    const response = await callApp(render(LIST_TO_HTML, app));
    expect(response.header("content-type")).toBe("text/html; charset=utf-8");
    expect(response.header("x-kept")).toBe("yes");
  });

  it.each([
    ["a non-XML type", answering("plain", [["Content-Type", "text/plain"]])],
    ["an error status", answering(XML, [["Content-Type", "application/xml"]], "404 Not Found")],
    [
      "an encoded body",
      answering(XML, [
        ["Content-Type", "application/xml"],
        ["Content-Encoding", "gzip"],
      ]),
    ],
  ])("passes %s through untouched, close() included", async (_what, app) => {
    const direct = await callApp(app);
    app.closed = false;
    const through = await callApp(render(LIST_TO_HTML, app));
    expect([through.status, through.headers, through.text]).toEqual([
      direct.status,
      direct.headers,
      direct.text,
    ]);
    expect(through.closed).toBe(true);
    expect(app.closed).toBe(true);
  });

  it("transforms the body of an app that calls start_response from its generator", async () => {
    const generatorApp: Application = (environ, startResponse) => {
      // A generator body runs only when iterated: start_response comes with the first chunk.
      return (function* () {
        startResponse("200 OK", [["Content-Type", "text/xml"]]);
        yield bytes("<list><item>x</item>");
        yield bytes("</list>");
      })();
    };
    const response = await callApp(render(LIST_TO_HTML, generatorApp));
    expect(response.text).toBe("<!DOCTYPE html>\n<ul><li>x</li></ul>");
  });

  it("includes what the app sent through write()", async () => {
    const writer: Application = (_environ, startResponse) => {
      const write = startResponse("200 OK", [["Content-Type", "application/xml"]]);
      void write(bytes("<list><item>w</item>"));
      return [bytes("</list>")];
    };
    expect((await callApp(render(LIST_TO_HTML, writer))).text).toContain("<li>w</li>");
  });

  it("passes an app's excInfo replacement through", async () => {
    const failing: Application = (_environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "application/xml"]]);
      startResponse("500 Internal Server Error", [["Content-Type", "text/plain"]], new Error("x"));
      return [bytes("sorry")];
    };
    const response = await callApp(render(LIST_TO_HTML, failing));
    expect([response.code, response.text]).toEqual([500, "sorry"]);
  });

  it.each([
    ["a stylesheet that is not XML", "<xsl:stylesheet", XML, /stylesheet is not well-formed XML/],
    ["a stylesheet that is not XSLT", "<html/>", XML, /root element is not xsl:stylesheet/],
    ["a body that is not XML", LIST_TO_HTML, "not xml at all", /body is not well-formed XML/],
    ["a body cut short", LIST_TO_HTML, "<list><item>", /body is not well-formed XML/],
    [
      "an XPath error in the stylesheet",
      LIST_TO_HTML.replace('select="."', 'select="(("'),
      XML,
      /transform failed/,
    ],
  ])("answers 500 and logs one clear line for %s", async (_what, stylesheet, body, why) => {
    const response = await callApp(render(stylesheet, answering(body)), { path: "/page" });
    expect(response.status).toBe("500 Internal Server Error");
    expect(response.text).toBe("Internal Server Error\n");
    expect(response.errors).toMatch(why);
    expect(response.errors).toMatch(/^xslt: GET \/page: .*\n$/);
  });

  it("answers 500 for a body that is not UTF-8", async () => {
    const latin1: Application = (_environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "application/xml"]]);
      return [new Uint8Array([0x3c, 0x61, 0x3e, 0xe9, 0x3c, 0x2f, 0x61, 0x3e])];
    };
    const response = await callApp(render(LIST_TO_HTML, latin1));
    expect(response.code).toBe(500);
    expect(response.errors).toMatch(/not UTF-8/);
  });
});

describe("isXmlContentType", () => {
  it.each([
    ["application/xml", true],
    ["text/xml; charset=utf-8", true],
    ["image/svg+xml", true],
    ["Application/XML", true],
    ["text/html", false],
    ["application/json", false],
    [undefined, false],
  ])("%s → %s", (type, expected) => {
    expect(isXmlContentType(type)).toBe(expected);
  });
});
